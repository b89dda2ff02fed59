import { parseArgs } from 'node:util';
import { editDistance } from '../config/values.ts';
import { SwitchyardError } from '../errors.ts';

/**
 * One table per command (scripts/specs.ts) says which options it takes; from it come the parsing
 * (node's parseArgs), the Usage line and options of its --help, the list in ./deploy.ts --help, and
 * the unknown-option error with its "did you mean". Pure.
 */

export type OptionSpec = {
  /** A flag (boolean) or an option that takes a value, shown as `value` in the help. */
  value?: string;
  short?: string;
  help: string;
};

/** One positional argument: `<NAME>` when required, `[NAME]` when not; a variadic one takes the rest. */
export type PositionalSpec = {
  name: string;
  required?: boolean;
  variadic?: boolean;
  /** The Usage line's words for it when `<NAME>`/`[NAME]` would not say it (`-- <command> [args...]`). */
  usage?: string;
  /** How a usage error names it (`a command`); default its usage words, or for an optional one its name in lower case. */
  what?: string;
};

export type CommandSpec = {
  name: string;
  summary: string;
  /** In order; a command without them takes none. */
  positionals?: readonly PositionalSpec[];
  options: Record<string, OptionSpec>;
  /** Left out of ./deploy.ts --help (bake-watch is started by deploy itself). */
  internal?: boolean;
};

/** Taken by every command. */
export type CommonFlag = 'help' | 'no-color' | 'color' | 'verbose';

export const COMMON_OPTIONS: Record<CommonFlag, OptionSpec> = {
  help: { short: 'h', help: 'this help' },
  'no-color': { help: 'plain text even on a terminal (also NO_COLOR)' },
  color: { help: 'colour even when not on a terminal (also FORCE_COLOR)' },
  verbose: { help: 'stack traces with errors' },
};

export type ParsedCommandLine = { flags: Record<string, string | boolean | undefined>; args: string[] };

/** Options before `--`, everything after it an argument (a commit may be called `-h`); an unknown option is refused with the likely intended one. */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): ParsedCommandLine {
  const all = { ...spec.options, ...COMMON_OPTIONS };
  const options = Object.fromEntries(Object.entries(all).map(([name, option]) => [name, { type: option.value ? ('string' as const) : ('boolean' as const), ...(option.short ? { short: option.short } : {}) }]));
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { flags: values as ParsedCommandLine['flags'], args: positionals };
  } catch (error) {
    throw optionError(spec, argv, error as NodeJS.ErrnoException);
  }
}

function optionError(spec: CommandSpec, argv: readonly string[], error: NodeJS.ErrnoException): SwitchyardError {
  const next = `see ./deploy.ts ${spec.name} --help`;
  const given = /'(-[^']*)'/.exec(error.message)?.[1] ?? '';
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const typed = argv.find((arg) => arg === given || arg.startsWith(`${given}=`)) ?? given;
    const suggestion = suggestOption(spec, given);
    return new SwitchyardError(`unknown option ${JSON.stringify(typed)}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`, { untouched: 'nothing was changed', next, exitCode: 2 });
  }
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = given.replace(/^-+/, '').split(/[ ,]/)[0];
    const option = Object.entries({ ...spec.options, ...COMMON_OPTIONS }).find(([long, entry]) => long === name || entry.short === name);
    const shown = option ? (option[1].short === name ? `-${name}` : `--${option[0]}`) : given;
    return new SwitchyardError(option?.[1].value ? `${shown} needs a value (${shown} ${option[1].value})` : `${shown} takes no value`, { untouched: 'nothing was changed', next, exitCode: 2 });
  }
  return new SwitchyardError(`cannot read the options: ${error.message}`, { untouched: 'nothing was changed', next, exitCode: 2 });
}

/** The option of this command a mistyped one was probably meant to be. */
export function suggestOption(spec: CommandSpec, typed: string): string | undefined {
  const bare = typed.replace(/^-+/, '').split('=')[0].toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(spec.options)) {
    const distance = editDistance(bare, name);
    if (distance <= Math.max(1, Math.min(2, Math.floor(name.length / 3))) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best ? `--${best.name}` : undefined;
}

const optionWords = (name: string, option: OptionSpec) => `${option.short ? `-${option.short}|` : ''}--${name}${option.value ? ` ${option.value}` : ''}`;

/** `<APP_NAME>`, `[COMMIT]`, or the words a positional spells out itself. */
export function positionalWords(positional: PositionalSpec): string {
  return positional.usage ?? (positional.required ? `<${positional.name}>` : `[${positional.name}]`);
}

/** `deploy [COMMIT] [--rebuild] [--dry-run] [--json]`: the command as ./deploy.ts --help lists it. */
export function synopsis(spec: CommandSpec): string {
  const options = Object.entries(spec.options).map(([name, option]) => `[${option.short ? `-${option.short}` : `--${name}`}${option.value ? ` ${option.value}` : ''}]`);
  return [spec.name, ...(spec.positionals ?? []).map(positionalWords), ...options].filter(Boolean).join(' ');
}

/** A command's --help: its Usage line, what it does, and every option it takes. */
export function renderHelp(spec: CommandSpec, description: string): string {
  const rows = [...Object.entries(spec.options), ...Object.entries(COMMON_OPTIONS)].map(
    ([name, option]) => [optionWords(name, option), option.help] as const,
  );
  const width = Math.max(...rows.map(([words]) => words.length)) + 2;
  const options = rows.map(([words, text]) => `  ${words.padEnd(width)}${text}`).join('\n');
  return `Usage: ./deploy.ts ${synopsis(spec)}\n\n${description.trim()}\n\nOptions:\n${options}\n`;
}
