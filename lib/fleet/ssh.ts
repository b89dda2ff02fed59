import type { FleetHost } from './hosts.ts';
import { shellQuote } from '../host/commands/quote.ts';

/**
 * The system's OpenSSH client, never a library: it honours the user's SSH config, agent, ProxyJump
 * and known_hosts. Pure: the argv only.
 */

export type SshOptions = {
  /** FLEET_SSH_CONFIG, passed as `-F`. */
  configFile?: string;
  /** A private (0700) folder of the controller for the multiplexed connections' sockets. */
  controlDir: string;
  connectTimeoutS?: number;
  /** How long the shared connection stays open after its last command. */
  persistS?: number;
};

/**
 * `ssh` argv running `remote` (words, quoted here for the remote shell) after `prefix` (FLEET_REMOTE,
 * the operator's own command, passed as written). BatchMode: nothing ever prompts; a host key is
 * only accepted as the user's config says (no StrictHostKeyChecking of ours). One ControlMaster
 * per host: a rollout pays one handshake per host and never trips sshd's MaxStartups.
 */
export function sshArgv(
  host: FleetHost,
  prefix: string,
  remote: readonly string[],
  options: SshOptions,
  env: Record<string, string> = {},
): string[] {
  return [
    'ssh',
    ...(options.configFile ? ['-F', options.configFile] : []),
    '-T',
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${options.connectTimeoutS ?? 10}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=3',
    '-o', 'ControlMaster=auto',
    '-o', `ControlPath=${options.controlDir}/%C`,
    '-o', `ControlPersist=${options.persistS ?? 60}`,
    ...(host.port !== undefined ? ['-p', String(host.port)] : []),
    '--',
    host.destination,
    remoteCommand(prefix, remote, env),
  ];
}

/** `ssh -O exit`: close a host's shared connection at the end of a command. */
export function sshExitArgv(host: FleetHost, options: SshOptions): string[] {
  return [
    'ssh',
    ...(options.configFile ? ['-F', options.configFile] : []),
    '-o', `ControlPath=${options.controlDir}/%C`,
    ...(host.port !== undefined ? ['-p', String(host.port)] : []),
    '-O', 'exit',
    '--',
    host.destination,
  ];
}

/**
 * What the remote shell runs: `env K=V` (ssh passes no variables of ours), the prefix as written,
 * then each word quoted so the shell passes it as one argument.
 */
export function remoteCommand(prefix: string, words: readonly string[], env: Record<string, string> = {}): string {
  const assignments = Object.entries(env).map(([key, value]) => shellQuote(`${key}=${value}`));
  return [...(assignments.length ? ['env', ...assignments] : []), prefix.trim(), ...words.map((word) => shellQuote(word))].filter(Boolean).join(' ');
}

