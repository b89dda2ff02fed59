import { CONFIG_KEYS, KNOWN_KEYS, type ConfigKey } from '../config/keys.ts';

/**
 * `./deploy.ts init`, the pure half: which .env to write from the flags, what to do with one that is
 * already there, and what is left for the operator. The steps that write live in init-steps.ts.
 */

/** One flag per key an operator sets on a new host; `ask` is the question on a TTY. */
export const INIT_FLAGS = [
  { flag: '--app', key: 'APP_NAME', ask: 'App name (letters, digits, . _ -)' },
  { flag: '--repo', key: 'REPO', ask: 'Git URL or local path of the repository' },
  { flag: '--root', key: 'DEPLOY_ROOT', ask: 'DEPLOY_ROOT, the folder for slots, state and logs (e.g. /srv/myapp)' },
  { flag: '--branch', key: 'DEPLOY_BRANCH' },
  { flag: '--listen', key: 'NGINX_LISTEN' },
  { flag: '--server-name', key: 'NGINX_SERVER_NAME' },
  { flag: '--tls', key: 'NGINX_TLS' },
  { flag: '--switch', key: 'SWITCH' },
  { flag: '--port-a', key: 'PORT_A' },
  { flag: '--port-b', key: 'PORT_B' },
  { flag: '--install', key: 'INSTALL_CMD' },
  { flag: '--build', key: 'BUILD_CMD' },
  { flag: '--start', key: 'START_CMD' },
  { flag: '--health', key: 'HEALTH_PATH' },
  { flag: '--process-manager', key: 'PROCESS_MANAGER' },
  { flag: '--test-cmd', key: 'NGINX_TEST_CMD' },
  { flag: '--reload-cmd', key: 'NGINX_RELOAD_CMD' },
  { flag: '--pid-file', key: 'NGINX_PID_FILE' },
  { flag: '--upstream-file', key: 'NGINX_UPSTREAM_FILE' },
  { flag: '--live-dir', key: 'NGINX_LIVE_DIR' },
] as const satisfies readonly { flag: string; key: ConfigKey; ask?: string }[];

export const REQUIRED_INIT_KEYS: ConfigKey[] = ['APP_NAME', 'REPO', 'DEPLOY_ROOT'];

/** What the host is like, as far as the .env and the operator's to-do list care. */
export type HostFacts = {
  /** The user that deploys (runs this command). */
  user: string;
  isRoot: boolean;
  /** systemd runs the host (/run/systemd/system exists). */
  systemd: boolean;
  nginxBinary: string;
  systemctl: string;
};

/**
 * The keys init writes: the given ones, and nginx's commands for this host when not given: no sudo
 * for root, `systemctl reload nginx` under systemd, `nginx -s reload` without it. Pure.
 */
export function initValues(given: Partial<Record<ConfigKey, string>>, facts: HostFacts): Partial<Record<ConfigKey, string>> {
  const sudo = facts.isRoot ? '' : 'sudo -n ';
  const values: Partial<Record<ConfigKey, string>> = { ...given };
  values.NGINX_TEST_CMD ??= `${sudo}${facts.nginxBinary} -t`;
  values.NGINX_RELOAD_CMD ??= facts.systemd ? `${sudo}${facts.systemctl} reload nginx` : `${sudo}${facts.nginxBinary} -s reload`;
  return values;
}

/** A commented .env: every key with its description and default, the set ones uncommented. Pure. */
export function renderEnvFile(values: Partial<Record<ConfigKey, string>>): string {
  const lines = [
    '# Switchyard configuration, written by ./deploy.ts init. Every key is described in .env.example;',
    '# environment variables override these values. Check the whole set-up with ./deploy.ts doctor.',
    '',
  ];
  for (const key of KNOWN_KEYS) {
    const spec = CONFIG_KEYS[key] as { doc: string; default?: string; required?: boolean };
    lines.push(`# ${spec.doc}${spec.required ? ' (required)' : spec.default !== undefined ? ` (default: ${spec.default})` : ''}`);
    const value = values[key];
    lines.push(value !== undefined ? `${key}=${quote(value)}` : `# ${key}=${spec.default && !spec.default.startsWith('<') && !spec.default.includes('[') ? quote(spec.default) : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** dotenv takes a single-quoted value literally (no escapes at all): quote anything with spaces, # or quotes that way. Pure. */
function quote(value: string): string {
  if (/^[A-Za-z0-9_./:@%+,=-]*$/.test(value)) return value;
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"') && !value.includes('\\n')) return `"${value}"`;
  return `\`${value}\``;
}

export type FileAction = 'create' | 'unchanged' | 'replace' | 'refuse';

/** What to do with a file that should hold `wanted`. Pure. */
export function planFile(existing: string | undefined, wanted: string, force: boolean): FileAction {
  if (existing === undefined) return 'create';
  if (existing === wanted) return 'unchanged';
  return force ? 'replace' : 'refuse';
}

/**
 * An .env init wrote and nobody edited since: rendering its own values again gives it byte for byte.
 * Init may rewrite such a file with new flags (every value it held is merged in) without --force. Pure.
 */
export function isOwnEnvFile(text: string, parse: (text: string) => Record<string, string>): boolean {
  return renderEnvFile(mergeAnswers({}, parse(text))) === text;
}

/** The given flags, then the values of an existing .env for the rest (so a second `init` needs no flags). Pure. */
export function mergeAnswers(
  flags: Partial<Record<ConfigKey, string>>,
  existing: Record<string, string>,
): Partial<Record<ConfigKey, string>> {
  const result: Partial<Record<ConfigKey, string>> = {};
  for (const key of KNOWN_KEYS) {
    const value = flags[key] ?? existing[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

export function missingKeys(values: Partial<Record<ConfigKey, string>>): ConfigKey[] {
  return REQUIRED_INIT_KEYS.filter((key) => !values[key]);
}

export function flagOf(key: ConfigKey): string {
  return INIT_FLAGS.find((entry) => entry.key === key)?.flag ?? key;
}

/** Where a Debian/Ubuntu nginx (sites-available + sites-enabled) or another one (conf.d) takes a site. Pure. */
export function siteInstallPaths(nginxDir: string, appName: string, debianLayout: boolean): { file: string; link?: string } {
  return debianLayout
    ? { file: `${nginxDir}/sites-available/${appName}`, link: `${nginxDir}/sites-enabled/${appName}` }
    : { file: `${nginxDir}/conf.d/${appName}.conf` };
}

/** The sudoers line that lets the deploy user run exactly NGINX_TEST_CMD and NGINX_RELOAD_CMD, or undefined when they need no sudo. Pure. */
export function sudoersLine(
  user: string,
  testCmd: string,
  reloadCmd: string,
  absolute: (program: string) => string = (program) => program,
): string | undefined {
  // sudoers wants each command with its absolute path: `nginx -t` becomes `/usr/sbin/nginx -t`.
  const commands = [testCmd, reloadCmd].filter((command) => /^sudo -n /.test(command)).map((command) => {
    const [program, ...rest] = command.replace(/^sudo -n /, '').split(/\s+/);
    return [program.startsWith('/') ? program : absolute(program), ...rest].join(' ');
  }).flatMap((command) => (/ -t( |$)/.test(command) ? [command, command.replace(/ -t( |$)/, ' -T$1')] : [command]));
  // `nginx -T` (the test that also prints the configuration) lets ./deploy.ts doctor see what nginx really includes.
  if (commands.length === 0) return undefined;
  return `${user} ALL=(root) NOPASSWD: ${commands.join(', ')}`;
}

/** The exact steps left after init, for an operator to copy. Pure. */
export function operatorSteps(input: {
  user: string;
  envFile: string;
  siteFile: string;
  install?: { file: string; link?: string };
  /** Debian's sites-enabled/default, when it is there: it also listens on port 80, as default_server. */
  defaultSite?: string;
  nginxInstalled: boolean;
  testCmd: string;
  reloadCmd: string;
  absolute?: (program: string) => string;
  /** The helper's command that installs the upstream, when the upstream file is root's to write (docs/security.md). */
  upstreamByRoot?: string;
  /** The .env deploy.ts reads when DEPLOY_ENV_FILE is not set: any other envFile must be named in each command. */
  defaultEnvFile?: string;
  /** NGINX_TLS=acme: root's command that installs the hook and issues the certificate, once the site serves port 80. */
  certbot?: string;
}): string[] {
  const steps: string[] = [];
  if (input.upstreamByRoot) steps.push(`as root, install the helper and the upstream it renders (docs/security.md): ${input.upstreamByRoot}`);
  // A root-owned upstream in the live-file mode: deploys never change what nginx parses, so no sudoers rule at all.
  // Otherwise the sudoers line comes before the first command that needs it (a `sudo -n nginx -t` fails without it).
  const line = input.upstreamByRoot ? undefined : sudoersLine(input.user, input.testCmd, input.reloadCmd, input.absolute);
  const sudoers = line ? `let ${input.user} test and reload nginx without a password: echo '${line}' | sudo tee /etc/sudoers.d/switchyard && sudo chmod 440 /etc/sudoers.d/switchyard && sudo visudo -c` : undefined;
  if (!input.nginxInstalled && input.install) {
    steps.push(`install the site: sudo install -m 644 ${input.siteFile} ${input.install.file}${input.install.link ? ` && sudo ln -sfn ${input.install.file} ${input.install.link}` : ''}${input.defaultSite ? ` && sudo rm ${input.defaultSite}` : ''}`);
    if (input.defaultSite) steps.push(`(${input.defaultSite} is removed because it takes every request on port 80 as default_server; keep it only if the site listens elsewhere: --listen)`);
    if (sudoers) steps.push(sudoers);
    const asRoot = (command: string) => (input.upstreamByRoot ? command.replace(/^sudo -n /, 'sudo ') : command);
    steps.push(`then test and reload nginx: ${asRoot(input.testCmd)} && ${asRoot(input.reloadCmd)} (or run ./deploy.ts init --nginx as root)`);
  } else if (sudoers) steps.push(sudoers);
  if (input.certbot) steps.push(`HTTPS: once nginx serves the site, as root, the hook and the certificate (docs/https.md): ${input.certbot}`);
  const deployTs = input.defaultEnvFile !== undefined && input.envFile !== input.defaultEnvFile ? `DEPLOY_ENV_FILE=${input.envFile} ./deploy.ts` : './deploy.ts';
  steps.push(`check everything: ${deployTs} doctor`);
  steps.push(`first deploy: ${deployTs} deploy`);
  return steps;
}
