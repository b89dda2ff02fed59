import type { Config } from '../config/config.ts';
import type { ConfigKey } from '../config/keys.ts';
import { SwitchyardError } from '../errors.ts';
import { hasFlag, loadConfig, reportFailure, type CommandIo, type FailureOutput } from './command.ts';
import { COMMON_OPTIONS, parseCommandLine, positionalWords, renderHelp, type CommandSpec, type CommonFlag, type ParsedCommandLine, type PositionalSpec } from './options.ts';
import { asInvoked } from './program-name.ts';
import { Reporter, wantsColor } from './reporter.ts';

/**
 * One declaration per command (its spec from scripts/specs.ts, its help text, what it needs) from which
 * come the frame every command shares: --help, the parsing, the positional count, typed flags and named
 * arguments, the config and a reporter that redacts its secrets, the error line and the exit code.
 */

type OptionValue<O> = O extends { value: string } ? string | undefined : boolean;

/** `--rebuild` is a boolean, `--count N` a string or undefined; --help, --color, --no-color and --verbose for every command. */
export type Flags<S extends CommandSpec> = { readonly [K in keyof S['options']]: OptionValue<S['options'][K]> } & {
  readonly [K in CommonFlag]: boolean;
};

type ArgValue<P extends PositionalSpec> = P extends { variadic: true } ? string[]
  : P extends { required: true } ? string
  : string | undefined;

/** The positionals by name: `{ COMMIT: string | undefined }`, `{ APP_NAME: string }`, a variadic one `string[]`. */
export type Args<S extends CommandSpec> = S extends { positionals: infer List extends readonly PositionalSpec[] }
  ? { readonly [P in List[number] as P['name']]: ArgValue<P> }
  : Record<string, never>;

/** No config (false), every required key (true), only these keys required, or loaded by run() itself ('lazy'). */
export type ConfigNeed = boolean | readonly ConfigKey[] | 'lazy';

export type CommandContext<S extends CommandSpec, C extends ConfigNeed, O> = {
  io: CommandIo;
  flags: Flags<S>;
  args: Args<S>;
  /** Made again once the config is loaded, so that every line it prints hides the config's secrets. */
  reporter: O;
  config: C extends true | readonly ConfigKey[] ? Config : undefined;
  /** For config 'lazy': loads it (once) and gives the reporter that redacts its secrets; the error frame uses that one too. */
  loadConfig(): { config: Config; reporter: O };
};

export type CommandDeclaration<S extends CommandSpec, C extends ConfigNeed, O extends FailureOutput> = {
  spec: S;
  /** What the command does, under the Usage line of its --help (the options are listed from the spec). */
  help: string;
  config?: C;
  /** 'events' (the default): --json turns every line into a JSON event. 'document': --json is one document run() prints; the rest stays text. */
  json?: 'events' | 'document';
  /** What a usage error (a wrong argument count) says was left as it was; default "nothing was changed". */
  untouched?: string;
  /** Usage checks that need no config, run before it loads (throw a SwitchyardError with exit code 2). */
  check?(input: { flags: Flags<S>; args: Args<S> }): void;
  /** Where lines go instead of a Reporter (the fleet's controller output); such a command loads no config. */
  output?(io: CommandIo, json: boolean): O;
  run(ctx: CommandContext<S, C, O>): Promise<number>;
};

export type Command = { name: string; summary: string; help: string; run(io: CommandIo): Promise<number> };

export function defineCommand<S extends CommandSpec, C extends ConfigNeed = false, O extends FailureOutput = Reporter>(
  declaration: CommandDeclaration<S, C, O>,
): Command {
  const { spec } = declaration;
  const help = renderHelp(spec, declaration.help);
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    async run(io) {
      if (hasFlag(io.argv, '--help', '-h')) {
        process.stdout.write(asInvoked(help, io.program));
        return 0;
      }
      const json = declaration.json !== 'document' && hasFlag(io.argv, '--json');
      const color = wantsColor(process.stdout, io.env, io.argv);
      const makeOutput = (config?: Config): O =>
        declaration.output?.(io, json) ?? (new Reporter({ color, json, secrets: config?.secrets, program: io.program }) as unknown as O);
      let reporter = makeOutput();
      let loaded: Config | undefined;
      const load = () => {
        if (declaration.output) throw new Error(`${spec.name} has its own output and loads no config through the frame`);
        if (!loaded) {
          const need = declaration.config;
          loaded = loadConfig(io, reporter as unknown as Reporter, Array.isArray(need) ? [...need] : undefined);
          reporter = makeOutput(loaded);
        }
        return { config: loaded, reporter };
      };
      try {
        const parsed = parseCommandLine(spec, io.argv);
        const problem = argumentCountProblem(spec, parsed.args.length);
        if (problem) throw new SwitchyardError(problem, { untouched: declaration.untouched ?? 'nothing was changed', next: `see ./deploy.ts ${spec.name} --help`, exitCode: 2 });
        const flags = withBooleanDefaults(spec, parsed.flags) as Flags<S>;
        const args = namedArgs(spec, parsed.args) as Args<S>;
        declaration.check?.({ flags, args });
        const need = declaration.config ?? false;
        const config = (need === true || Array.isArray(need) ? load().config : undefined) as CommandContext<S, C, O>['config'];
        return await declaration.run({ io, flags, args, reporter, config, loadConfig: load });
      } catch (error) {
        return reportFailure(error, reporter, io.argv);
      }
    },
  };
}

const lowerWhat = (positional: PositionalSpec) => positional.what ?? positional.name.toLowerCase();

/** The usage error for `count` positionals, or undefined when the spec takes that many. Pure. */
export function argumentCountProblem(spec: CommandSpec, count: number): string | undefined {
  const positionals = spec.positionals ?? [];
  const required = positionals.filter((positional) => positional.required);
  const most = positionals.some((positional) => positional.variadic) ? Infinity : positionals.length;
  if (count >= required.length && count <= most) return undefined;
  if (positionals.length === 0) return `${spec.name} takes no arguments`;
  if (required.length === 0) return `${spec.name} takes at most ${most === 1 ? `one ${lowerWhat(positionals[0])}` : `${most} arguments`}; got ${count} arguments`;
  const variadic = required.find((positional) => positional.variadic);
  if (variadic) return `${spec.name} needs ${variadic.what ?? positionalWords(variadic)}: ./deploy.ts ${spec.name} ${positionals.map(positionalWords).join(' ')}`;
  return `${spec.name} needs ${required.map(positionalWords).join(' ')}; got ${count} argument(s)`;
}

/** Positionals by their spec's names, in order; a variadic one takes the rest. Pure. */
export function namedArgs(spec: CommandSpec, given: readonly string[]): Record<string, string | string[] | undefined> {
  const positionals = spec.positionals ?? [];
  return Object.fromEntries(positionals.map(({ name, variadic }, index) => [name, variadic ? given.slice(index) : given[index]]));
}

/** A boolean option not given is false, not absent, so `flags.force` is what its type says. Pure. */
function withBooleanDefaults(spec: CommandSpec, flags: ParsedCommandLine['flags']): ParsedCommandLine['flags'] {
  const options = [...Object.entries(spec.options), ...Object.entries(COMMON_OPTIONS)];
  return { ...Object.fromEntries(options.filter(([, option]) => !option.value).map(([name]) => [name, false])), ...flags };
}
