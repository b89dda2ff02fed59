import type { CommandSpec } from '../lib/cli/options.ts';
import { CONFIG_KEYS, type ConfigKey } from '../lib/config/keys.ts';
import { INIT_FLAGS } from '../lib/setup/init.ts';

type Bare<Flag> = Flag extends `--${infer Name}` ? Name : never;
/** init's value flags (--app, --repo ...), so its flags are typed: see lib/cli/define-command.ts. */
type InitValueFlag = Bare<(typeof INIT_FLAGS)[number]['flag']>;

/** What init's value flags take, as its --help shows it. */
const INIT_VALUES: Partial<Record<ConfigKey, string>> = {
  APP_NAME: 'NAME', REPO: 'URL|PATH', DEPLOY_ROOT: 'DIR', DEPLOY_BRANCH: 'BRANCH', NGINX_LISTEN: 'PORT|ADDR:PORT', SWITCH: 'MODE', PORT_A: 'N', PORT_B: 'N',
  INSTALL_CMD: 'CMD', BUILD_CMD: 'CMD', START_CMD: 'CMD', HEALTH_PATH: 'PATH', PROCESS_MANAGER: 'builtin|systemd', NGINX_TEST_CMD: 'CMD', NGINX_RELOAD_CMD: 'CMD', NGINX_PID_FILE: 'FILE', NGINX_SERVER_NAME: 'NAMES', NGINX_TLS: 'off|acme|files', NGINX_UPSTREAM_FILE: 'FILE', NGINX_LIVE_DIR: 'DIR',
};

/**
 * Every command's option table, in one light file: each command parses its argv and renders its
 * --help from its table, and ./deploy.ts --help lists them all without loading a command.
 */

const json = { help: 'one JSON object per line (the events of lib/cli/events.ts) instead of text' };
/** deploy's and rollback's: the dry run prints the same table of steps the run walks. */
const planOptions = {
  'dry-run': { help: 'print the plan, one step a line, and change nothing' },
  json: { help: 'one JSON event per line: step (with ms), output, warning, error, success; plan with --dry-run' },
};

/** `./deploy.ts fleet <subcommand>`: one table each, as for a host's commands (scripts/fleet.ts). */
export const FLEET_SPECS = {
  deploy: {
    name: 'fleet deploy',
    positionals: [{ name: 'COMMIT' }],
    summary: 'rolling (or blue-green) deploy of one SHA to every host',
    options: {
      'dry-run': { help: "print the batches and each host's plan, change nothing" },
      json: { help: 'one JSON event per line, each carrying its host' },
    },
  },
  rollback: {
    name: 'fleet rollback',
    positionals: [{ name: 'COMMIT' }],
    summary: 'every host back (blue-green: the switch only)',
    options: { json: { help: 'one JSON event per line, each carrying its host' } },
  },
  status: { name: 'fleet status', summary: "every host's live slot, commit, health; warns on two versions", options: { json: { help: 'the report as one JSON document' } } },
  doctor: { name: 'fleet doctor', summary: 'what the preflight checks, changing nothing', options: { json: { help: 'one JSON document of every check' } } },
  history: {
    name: 'fleet history',
    summary: 'the fleet commands, merged from every host',
    options: {
      count: { short: 'n', value: 'N', help: 'how many (default 10)' },
      json: { help: 'the entries as one JSON array' },
    },
  },
} as const satisfies Record<string, CommandSpec>;

export const SPECS = {
  deploy: {
    name: 'deploy',
    positionals: [{ name: 'COMMIT' }],
    summary: 'build a release from git (default: newest DEPLOY_BRANCH), start it on the idle slot, wait until healthy, move traffic to it, drain the old slot',
    options: {
      rebuild: { help: 'build a kept release again instead of starting it as it is; no install or build cache' },
      cold: { help: 'build without the build cache (BUILD_CACHE_PATHS); the install cache is still used' },
      'release-cmd': { help: 'run RELEASE_CMD even though it already ran for this commit (it runs once per commit otherwise)' },
      'no-release-cmd': { help: 'do not run RELEASE_CMD (a fleet runs it on one host only); nothing is recorded' },
      canary: { value: 'N%', help: 'this deploy starts as a canary: N% of users first, judged against the live slot (default: CANARY)' },
      'no-canary': { help: 'this deploy switches everyone at once, whatever CANARY says' },
      ...planOptions,
    },
  },
  rollback: {
    name: 'rollback',
    positionals: [{ name: 'COMMIT' }],
    summary: 'start the previous good release (or the kept one COMMIT names) on the idle slot and move traffic to it: no fetch, no install, no build, no RELEASE_CMD; during a canary: end it, every user back on the live slot',
    options: planOptions,
  },
  restart: { name: 'restart', summary: 'start the live release on the idle slot and move traffic to it (zero downtime)', options: { json } },
  releases: { name: 'releases', summary: 'the kept releases: commit, built, size, outcomes, live, which slot holds which', options: { json: { help: 'the list as one JSON document' } } },
  'bake-watch': { name: 'bake-watch', summary: 'internal: ends a bake window (started by deploy, detached)', options: {}, internal: true },
  'canary-watch': { name: 'canary-watch', summary: 'internal: judges, steps and ends a canary (started by deploy, detached)', options: {}, internal: true },
  promote: { name: 'promote', summary: 'during a canary: every user to the new release now (the switch), skipping the remaining steps', options: {} },
  status: {
    name: 'status',
    summary: 'which slot is live, its commit, pid, port, uptime and health',
    options: {
      json: { help: 'the report as one JSON document (warnings stay text on stderr)' },
      repair: { help: 'reconcile the state file with the host now (takes the deploy lock)' },
    },
  },
  history: {
    name: 'history',
    summary: 'the last deploys and rollbacks; --show prints one\'s full output',
    options: {
      count: { short: 'n', value: 'N', help: 'how many (default 10)' },
      show: { value: 'ID|last', help: 'the whole output of one deploy or rollback' },
      json: { help: 'the entries as one JSON array' },
    },
  },
  logs: {
    name: 'logs',
    positionals: [{ name: 'SLOT' }],
    summary: "the app's log (default: the live slot); --deploy: the output of the running (or last) deploy or rollback",
    options: {
      count: { short: 'n', value: 'N', help: 'how many lines (default 50)' },
      follow: { short: 'f', help: 'keep printing new lines (with --deploy: until that command has ended)' },
      deploy: { help: 'the output of the running (or last) deploy or rollback instead of the app\'s log' },
    },
  },
  start: { name: 'start', positionals: [{ name: 'APP_NAME', required: true }, { name: 'APP_DIR', required: true }, { name: 'PORT', required: true }], summary: 'run one app detached, with a log, a pid file and restart on crash', options: {} },
  stop: { name: 'stop', positionals: [{ name: 'APP_NAME', required: true }], summary: 'SIGTERM the app, SIGKILL after STOP_TIMEOUT', options: { force: { help: 'stop the live slot\'s app too (takes the site down)' } } },
  upstream: { name: 'upstream', summary: 'print (or write) the nginx upstream file for the live slot', options: { write: { help: 'write NGINX_UPSTREAM_FILE instead of printing it' } } },
  'nginx-site': {
    name: 'nginx-site',
    summary: 'print the complete nginx site for this configuration and SWITCH mode',
    options: {
      diff: { help: 'print what init --nginx would change in the installed site (a unified diff), writing nothing' },
      'nginx-dir': { value: 'DIR', help: "with --diff: nginx's configuration folder (default /etc/nginx)" },
    },
  },
  'install-hook': { name: 'install-hook', positionals: [{ name: 'BARE_REPO', required: true }], summary: 'push to deploy: install a post-receive hook in a bare repository', options: { force: { help: 'replace a different post-receive hook' } } },
  env: { name: 'env', positionals: [{ name: 'words', variadic: true, usage: '[set KEY=VALUE ... | unset KEY ...]' }], summary: "list (values redacted) or edit the app's environment, APP_ENV_FILE", options: {} },
  exec: { name: 'exec', positionals: [{ name: 'command', required: true, variadic: true, usage: '-- <command> [args...]', what: 'a command' }], summary: "run a command in the live release with the app's environment", options: {} },
  resume: { name: 'resume', summary: 'after a reboot: start the live slot again, health-check it, confirm the switch', options: { json } },
  'install-boot': { name: 'install-boot', summary: 'run resume at boot (systemd unit, or an @reboot crontab line)', options: { remove: { help: 'remove the boot entry instead' } } },
  init: {
    name: 'init',
    summary: 'write a commented .env, create DEPLOY_ROOT, the upstream and the nginx site',
    options: {
      ...(Object.fromEntries(INIT_FLAGS.map((entry) => [entry.flag.slice(2), { value: INIT_VALUES[entry.key] ?? 'VALUE', help: `${entry.key}${'ask' in entry ? ' (required)' : ` (default ${CONFIG_KEYS[entry.key].default || 'empty'})`}` }])) as Record<InitValueFlag, { value: string; help: string }>),
      config: { value: 'PATH', help: 'where to write the .env (default: .env beside deploy.ts)' },
      force: { help: 'replace an existing .env (or site) with other content' },
      nginx: { help: 'also install the site into nginx, test and reload it (root or sudo -n)' },
      'nginx-dir': { value: 'DIR', help: "nginx's configuration folder (default /etc/nginx)" },
    },
  },
  fleet: {
    name: 'fleet',
    positionals: [{ name: 'deploy|rollback|status|doctor|history', required: true }, { name: 'COMMIT' }],
    summary: 'many hosts over ssh, rolling or blue-green, ending on one version (docs/fleet.md)',
    // Listed as one entry: the options of its subcommands (FLEET_SPECS), each parsed by its own table.
    options: { ...FLEET_SPECS.deploy.options, ...FLEET_SPECS.history.options },
  },
  doctor: { name: 'doctor', summary: 'check the whole set-up (config, repo, DEPLOY_ROOT, nginx, sudo, ports, hooks, disk, Node) without changing anything; each ✖ names its fix', options: { json: { help: 'one JSON document of every check' } } },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof SPECS;
