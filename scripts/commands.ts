import type { Command } from '../lib/cli/define-command.ts';
import { synopsis, type CommandSpec } from '../lib/cli/options.ts';
import { editDistance } from '../lib/config/values.ts';
import { SPECS } from './specs.ts';

/** Each script exports `command`, its declaration (lib/cli/define-command.ts). */
type CommandModule = { command: Command };
const commandOf = (module: CommandModule) => module.command;

/** Loaded lazily so `--help` and `stop` do not pay for the modules a deploy needs. */
export const COMMANDS = {
  deploy: () => import('./deploy.ts').then(commandOf),
  rollback: () => import('./rollback.ts').then(commandOf),
  restart: () => import('./restart.ts').then(commandOf),
  releases: () => import('./releases.ts').then(commandOf),
  'bake-watch': () => import('./bake-watch.ts').then(commandOf),
  'canary-watch': () => import('./canary-watch.ts').then(commandOf),
  promote: () => import('./promote.ts').then(commandOf),
  status: () => import('./status.ts').then(commandOf),
  start: () => import('./start.ts').then(commandOf),
  stop: () => import('./stop.ts').then(commandOf),
  upstream: () => import('./upstream.ts').then(commandOf),
  'nginx-site': () => import('./nginx-site.ts').then(commandOf),
  history: () => import('./history.ts').then(commandOf),
  logs: () => import('./logs.ts').then(commandOf),
  'install-hook': () => import('./install-hook.ts').then(commandOf),
  env: () => import('./env.ts').then(commandOf),
  exec: () => import('./exec.ts').then(commandOf),
  resume: () => import('./resume.ts').then(commandOf),
  'install-boot': () => import('./install-boot.ts').then(commandOf),
  init: () => import('./init.ts').then(commandOf),
  doctor: () => import('./doctor.ts').then(commandOf),
  fleet: () => import('./fleet.ts').then(commandOf),
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

/** One entry per command, from its option table: the synopsis, then what it does. */
function commandList(): string {
  return Object.values(SPECS as Record<string, CommandSpec>)
    .filter((spec) => !spec.internal)
    .map((spec) => `  ${synopsis(spec)}\n${wrap(spec.summary, 100, '      ')}`)
    .join('\n');
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, indent + line].join('\n');
}

export function usage(configDir: string): string {
  return `Usage: ./deploy.ts <command> [options]

Zero-downtime deploys of an HTTP app on two slots (a, b) behind nginx.

Commands:
${commandList()}

Options for every command: --help, --no-color, --verbose (stack traces)
Several apps on one host: ./deploy.ts --app NAME <command> reads ${configDir}/apps/NAME.env
Configuration: ${configDir}/.env, or the file named by DEPLOY_ENV_FILE; environment variables
override it. Every key is documented in .env.example.
Exit code: 0 on success, 75 when another deploy holds the lock, 130 when interrupted, 2 on a usage
error, 1 otherwise.
`;
}
