#!/bin/sh
':' //; self="$(readlink -f -- "$0")"; d="${self%/*}"; [ -d "$d/lib" ] || exec node "$d/dist/deploy.mjs" "$@"; [ -z "$SWITCHYARD_NO_BUNDLE" ] && [ -f "$d/dist/.stamp" ] && newer="$(cd "$d" && find deploy.ts lib scripts tools package.json tsconfig.json node_modules/.package-lock.json -newer dist/.stamp -print -quit 2>/dev/null)" && [ -z "$newer" ] && exec node "$d/dist/deploy.mjs" "$@"; exec node --import "$d/lib/tsx-register.mjs" -- "$self" "$@"
// The line above is for /bin/sh (to TypeScript a string and a comment). It finds this file's real folder through any
// symlink, then runs the bundle (dist/, `npm run build`) unless a source is newer than it or SWITCHYARD_NO_BUNDLE is
// set; otherwise this file, with tsx resolved from that folder, whatever the working directory. An npm-installed
// copy ships no sources (package.json `files`), so there it always runs the bundle.
/** Switchyard: zero-downtime A/B deploys behind nginx. One file per command in scripts/. */
import { existsSync } from 'node:fs';
import { COMMANDS, unknownCommandLine, usage } from './scripts/commands.ts';
import { selectApp } from './lib/config/app-file.ts';
import { configDir, switchyardVersion } from './lib/project-dir.ts';
import { asInvoked, programName } from './lib/cli/program-name.ts';

// `./deploy.ts --app NAME <command>`: that app's apps/NAME.env (lib/config/app-file.ts).
const program = programName(process.argv[1]);
const selected = selectApp(process.argv.slice(2), process.env, configDir(process.env), existsSync);
const [name, ...args] = 'error' in selected ? [] : selected.argv;
const io = { argv: args, env: 'error' in selected ? process.env : selected.env, program };

if ('error' in selected) {
  process.stderr.write(asInvoked(`error: ${selected.error}\n`, program));
  process.exitCode = 2;
} else if (!name || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(asInvoked(usage(configDir(process.env)), program));
  process.exitCode = name ? 0 : 2;
} else if (name === '--version') {
  process.stdout.write(`switchyard ${switchyardVersion()}\n`);
} else if (!Object.hasOwn(COMMANDS, name)) {
  process.stderr.write(asInvoked(unknownCommandLine(name), program));
  process.exitCode = 2;
} else {
  const command = await COMMANDS[name as keyof typeof COMMANDS]();
  process.exitCode = await command.run(io);
  // A deploy, rollback or restart is over once it returns (its one line written, the lock released;
  // stdout and stderr are synchronous on Linux): do not wait for a pruned worktree's `git worktree
  // prune`, started in the background, or anything else still open.
  // A fleet session ran such commands in its own process (scripts/fleet-session.ts): the same holds when it ends.
  if (['deploy', 'rollback', 'restart'].includes(name) || (name === 'fleet' && args[0] === 'session')) process.exit();
}
