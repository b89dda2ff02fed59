#!/bin/sh
':' //; self="$(readlink -f -- "$0")"; exec node --import "$(dirname -- "$self")/lib/tsx-register.mjs" -- "$self" "$@"
// The line above is for /bin/sh (to TypeScript it is a string and a comment): it finds this file's real
// folder through any symlink and runs it with tsx resolved from there, whatever the working directory.
/** Switchyard: zero-downtime A/B deploys behind nginx. One file per command in scripts/. */
import { COMMANDS, usage } from './scripts/commands.ts';

const [name, ...args] = process.argv.slice(2);
const io = { argv: args, env: process.env };

if (!name || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(usage());
  process.exitCode = name ? 0 : 2;
} else if (name === '--version') {
  process.stdout.write('switchyard 0.1.0\n');
} else if (!Object.hasOwn(COMMANDS, name)) {
  process.stderr.write(`error: unknown command ${JSON.stringify(name)}; nothing was changed; run ./deploy.ts --help for the list\n`);
  process.exitCode = 2;
} else {
  const command = await COMMANDS[name as keyof typeof COMMANDS]();
  const options = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (options.includes('--help') || options.includes('-h')) process.stdout.write(command.help);
  else process.exitCode = await command.run(io);
}
