import { shellQuote } from './quote.ts';

/**
 * The system's OpenSSH client's argv, never a library: it honours the user's SSH config, agent,
 * ProxyJump and known_hosts. Pure: the argv only.
 */

/** Where ssh goes: a fleet host's destination (user@host or an ssh_config alias) and its port. */
export type SshTarget = { destination: string; port?: number };

export type SshOptions = {
  /** FLEET_SSH_CONFIG, passed as `-F`. */
  configFile?: string;
  /** A private (0700) folder of the controller for the multiplexed connections' sockets. */
  controlDir: string;
  connectTimeoutS?: number;
  /**
   * How long the shared connection stays open after its last command, in the background; `'no'`: the
   * command that opens it is the master itself, and the connection ends with that command.
   */
  persistS?: number | 'no';
};

const configFlag = (options: SshOptions) => (options.configFile ? ['-F', options.configFile] : []);
const portFlag = (target: SshTarget) => (target.port !== undefined ? ['-p', String(target.port)] : []);

/**
 * What the remote shell runs: `env K=V` (ssh passes no variables of ours), the prefix as written,
 * then each word quoted so the shell passes it as one argument.
 */
export function remoteCommand(prefix: string, words: readonly string[], env: Record<string, string> = {}): string {
  const assignments = Object.entries(env).map(([key, value]) => shellQuote(`${key}=${value}`));
  return [...(assignments.length ? ['env', ...assignments] : []), prefix.trim(), ...words.map((word) => shellQuote(word))].filter(Boolean).join(' ');
}

export const sshArgv = {
  /**
   * `ssh` running `remote` (words, quoted here for the remote shell) after `prefix` (FLEET_REMOTE,
   * the operator's own command, passed as written). BatchMode: nothing ever prompts; a host key is
   * only accepted as the user's config says (no StrictHostKeyChecking of ours). One ControlMaster
   * per host: a rollout pays one handshake per host and never trips sshd's MaxStartups.
   */
  run: (target: SshTarget, prefix: string, remote: readonly string[], options: SshOptions, env: Record<string, string> = {}): string[] => [
    'ssh',
    ...configFlag(options),
    '-T',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${options.connectTimeoutS ?? 10}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
    '-o', 'ControlMaster=auto',
    '-o', `ControlPath=${options.controlDir}/%C`,
    '-o', `ControlPersist=${options.persistS ?? 60}`,
    ...portFlag(target),
    '--',
    target.destination,
    remoteCommand(prefix, remote, env),
  ],
  /** `ssh -O exit`: close a host's shared connection at the end of a command. */
  exit: (target: SshTarget, options: SshOptions): string[] => [
    'ssh',
    ...configFlag(options),
    '-o', `ControlPath=${options.controlDir}/%C`,
    ...portFlag(target),
    '-O', 'exit',
    '--',
    target.destination,
  ],
};
