import type { CommandIo } from '../lib/cli/command.ts';
import { editDistance } from '../lib/config/config.ts';

export type CommandModule = { help: string; summary: string; run(io: CommandIo): Promise<number> };

/** Loaded lazily so `--help` and `stop` do not pay for the modules a deploy needs. */
export const COMMANDS = {
  deploy: () => import('./deploy.ts') as Promise<CommandModule>,
  rollback: () => import('./rollback.ts') as Promise<CommandModule>,
  restart: () => import('./restart.ts') as Promise<CommandModule>,
  releases: () => import('./releases.ts') as Promise<CommandModule>,
  'bake-watch': () => import('./bake-watch.ts') as Promise<CommandModule>,
  status: () => import('./status.ts') as Promise<CommandModule>,
  start: () => import('./start.ts') as Promise<CommandModule>,
  stop: () => import('./stop.ts') as Promise<CommandModule>,
  upstream: () => import('./upstream.ts') as Promise<CommandModule>,
  'nginx-site': () => import('./nginx-site.ts') as Promise<CommandModule>,
  history: () => import('./history.ts') as Promise<CommandModule>,
  logs: () => import('./logs.ts') as Promise<CommandModule>,
  'install-hook': () => import('./install-hook.ts') as Promise<CommandModule>,
  env: () => import('./env.ts') as Promise<CommandModule>,
  exec: () => import('./exec.ts') as Promise<CommandModule>,
  resume: () => import('./resume.ts') as Promise<CommandModule>,
  'install-boot': () => import('./install-boot.ts') as Promise<CommandModule>,
  init: () => import('./init.ts') as Promise<CommandModule>,
  doctor: () => import('./doctor.ts') as Promise<CommandModule>,
  fleet: () => import('./fleet.ts') as Promise<CommandModule>,
};

/** The command a mistyped one was probably meant to be (`stauts` → status, `rollbak` → rollback). Pure. */
export function suggestCommand(typed: string): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(COMMANDS)) {
    const distance = name.startsWith(typed.toLowerCase()) && typed.length >= 2 ? 1 : editDistance(typed.toLowerCase(), name);
    if (distance <= Math.max(1, Math.min(2, Math.floor(name.length / 3))) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** The one line for an unknown command, with the likely intended one. */
export function unknownCommandLine(typed: string): string {
  const suggestion = suggestCommand(typed);
  return `error: unknown command ${JSON.stringify(typed)}${suggestion ? ` (did you mean ${suggestion}?)` : ''}; nothing was changed; run ./deploy.ts --help for the list\n`;
}

export function usage(): string {
  return `Usage: ./deploy.ts <command> [options]

Zero-downtime deploys of an HTTP app on two slots (a, b) behind nginx.

Commands:
  deploy [COMMIT] [--rebuild] [--dry-run] [--json]
                                  build a release from git (default: newest DEPLOY_BRANCH), start it on the idle slot,
                                  wait until healthy, move traffic to it, drain the old slot
  rollback [COMMIT] [--json]      start the previous good release (or the kept one COMMIT names) on the idle
                                  slot and move traffic to it: no fetch, no install, no build
  restart [--json]                start the live release on the idle slot and move traffic to it (zero downtime)
  releases [--json]               the kept releases: commit, built, size, outcomes, live, which slot holds which
  status [--json] [--repair]      which slot is live, its commit, pid, port, uptime and health
  history [-n N] [--show ID|last] [--json]
                                  the last deploys and rollbacks; --show prints one's full output
  logs [SLOT] [-n N] [-f]         the app's log (default: the live slot)
  logs --deploy [-f]              the output of the running (or last) deploy or rollback; -f follows it to its end
  start <APP_NAME> <APP_DIR> <PORT>   run one app detached, with a log, a pid file and restart on crash
  stop <APP_NAME> [--force]       SIGTERM the app, SIGKILL after STOP_TIMEOUT
  upstream [--write]              print (or write) the nginx upstream file for the live slot
  nginx-site                      print the complete nginx site for this configuration and SWITCH mode
  install-hook <BARE_REPO> [--force]   push to deploy: install a post-receive hook in a bare repository
  env [set KEY=VALUE ... | unset KEY ...]
                                  list (values redacted) or edit the app's environment, APP_ENV_FILE
  exec -- <command> [args...]     run a command in the live release with the app's environment
  resume                          after a reboot: start the live slot again, health-check it, confirm the switch
  install-boot [--remove]         run resume at boot (systemd unit, or an @reboot crontab line)
  init --app NAME --repo URL --root DIR [--nginx] [--force]
                                  write a commented .env, create DEPLOY_ROOT, the upstream and the nginx site
  doctor [--json]                 check the whole set-up (config, repo, DEPLOY_ROOT, nginx, sudo, ports,
                                  hooks, disk, Node) without changing anything; each ✖ names its fix
  fleet <deploy|rollback|status|doctor|history>
                                  many hosts over ssh, rolling or blue-green, ending on one version (docs/fleet.md)

Options for every command: --help, --no-color, --verbose (stack traces)
Configuration: .env beside deploy.ts, or the file named by DEPLOY_ENV_FILE; environment variables
override it. Every key is documented in .env.example.
Exit code: 0 on success, 75 when another deploy holds the lock, 130 when interrupted, 2 on a usage
error, 1 otherwise.
`;
}
