import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { argumentCountProblem, defineCommand, type CommandDeclaration, type ConfigNeed } from '../../lib/cli/define-command.ts';
import type { CommandSpec } from '../../lib/cli/options.ts';
import type { Reporter } from '../../lib/cli/reporter.ts';
import { SwitchyardError } from '../../lib/errors.ts';
import { SPECS } from '../../scripts/specs.ts';

/** The frame every command gets from one declaration: --help, flags before `--`, the argument count, typed flags, the error line, the exit code. */

const DEMO = {
  name: 'demo',
  summary: 'a command for this test',
  positionals: [{ name: 'COMMIT' }],
  options: { rebuild: { help: 'build again' }, count: { short: 'n', value: 'N', help: 'how many' } },
} as const satisfies CommandSpec;

let stdout: string[] = [];
let stderr: string[] = [];
beforeEach(() => {
  stdout = [];
  stderr = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
});
afterEach(() => vi.restoreAllMocks());

const io = (argv: string[], env: Record<string, string | undefined> = { NO_COLOR: '1' }) => ({ argv, env });

/** A demo command that records what its run() was given. */
function demo(overrides: Partial<CommandDeclaration<typeof DEMO, ConfigNeed, Reporter>> = {}) {
  const seen: { flags?: unknown; args?: unknown }[] = [];
  const command = defineCommand<typeof DEMO, ConfigNeed>({
    spec: DEMO,
    help: 'Does nothing, carefully.\n',
    async run({ flags, args }) {
      seen.push({ flags, args });
      return 0;
    },
    ...overrides,
  });
  return { command, seen };
}

describe('defineCommand', () => {
  it('hands run() typed flags (a boolean not given is false) and the positionals by name', async () => {
    const { command, seen } = demo();
    expect(await command.run(io(['--rebuild', '-n', '3', 'abc123']))).toBe(0);
    expect(await command.run(io([]))).toBe(0);
    expect(seen[0]).toEqual({ flags: expect.objectContaining({ rebuild: true, count: '3', verbose: false }), args: { COMMIT: 'abc123' } });
    expect(seen[1]).toEqual({ flags: expect.objectContaining({ rebuild: false }), args: { COMMIT: undefined } });
    expect(seen[1].flags).not.toHaveProperty('count');
  });

  it('takes everything after `--` as an argument, a commit called --rebuild or --help too', async () => {
    const { command, seen } = demo();
    expect(await command.run(io(['--', '--rebuild']))).toBe(0);
    expect(seen[0]).toEqual({ flags: expect.objectContaining({ rebuild: false }), args: { COMMIT: '--rebuild' } });
    expect(await command.run(io(['--', '--help']))).toBe(0);
    expect(seen[1].args).toEqual({ COMMIT: '--help' });
    expect(stdout.join('')).toBe('');
  });

  it('--help prints the Usage line, the text and every option, exit 0, and runs nothing', async () => {
    const { command, seen } = demo();
    expect(await command.run(io(['--bogus', '-h']))).toBe(0);
    expect(seen).toEqual([]);
    const help = stdout.join('');
    expect(help).toBe(command.help);
    expect(help).toMatch(/^Usage: \.\/deploy\.ts demo \[COMMIT\] \[--rebuild\] \[-n N\]\n\nDoes nothing, carefully\.\n\nOptions:\n/);
    expect(help).toMatch(/^ {2}-n\|--count N +how many$/m);
    expect(help).toMatch(/^ {2}--verbose +stack traces with errors$/m);
    // Under another name (npm's bin link) it says that name.
    stdout = [];
    await command.run({ ...io(['--help']), program: 'switchyard' });
    expect(stdout.join('')).toMatch(/^Usage: switchyard demo \[COMMIT\]/);
  });

  it('refuses a wrong argument count with exit 2 and one line, before the config is read or run() is called', async () => {
    const { command, seen } = demo({ config: true, untouched: 'nothing was built' });
    const missing = path.join(os.tmpdir(), 'no-such-folder', '.env');
    expect(await command.run(io(['a', 'b'], { NO_COLOR: '1', DEPLOY_ENV_FILE: missing }))).toBe(2);
    expect(seen).toEqual([]);
    expect(stderr.join('')).toBe('error: demo takes at most one commit; got 2 arguments; nothing was built; see ./deploy.ts demo --help\n');
  });

  it('refuses an unknown option with exit 2, naming the one probably meant', async () => {
    const { command, seen } = demo();
    expect(await command.run(io(['--rebiuld']))).toBe(2);
    expect(seen).toEqual([]);
    expect(stderr.join('')).toBe('error: unknown option "--rebiuld" (did you mean --rebuild?); nothing was changed; see ./deploy.ts demo --help\n');
    stderr = [];
    expect(await command.run(io(['--count']))).toBe(2);
    expect(stderr.join('')).toMatch(/^error: -n needs a value \(-n N\); nothing was changed/);
  });

  it('runs check() before the config: a usage error wins over a missing .env', async () => {
    const missing = path.join(os.tmpdir(), 'no-such-folder', '.env');
    const check = ({ flags }: { flags: { count: string | undefined } }) => {
      if (flags.count === 'x') throw new SwitchyardError('-n must be a number; got "x"', { exitCode: 2 });
    };
    const { command } = demo({ config: true, check });
    expect(await command.run(io(['-n', 'x'], { NO_COLOR: '1', DEPLOY_ENV_FILE: missing }))).toBe(2);
    expect(stderr.join('')).toBe('error: -n must be a number; got "x"\n');
    stderr = [];
    expect(await command.run(io(['-n', '1'], { NO_COLOR: '1', DEPLOY_ENV_FILE: missing }))).toBe(1);
    expect(stderr.join('')).toMatch(/^error: config file \S+ does not exist/);
  });

  it("returns run()'s exit code, a SwitchyardError's, or 1 with one line for anything else", async () => {
    const fails = (error: unknown) => demo({ run: async () => Promise.reject(error) }).command;
    expect(await demo({ run: async () => 130 }).command.run(io([]))).toBe(130);
    expect(await fails(new SwitchyardError('the lock is held', { untouched: 'nothing was changed', exitCode: 75 })).run(io([]))).toBe(75);
    expect(stderr.join('')).toBe('error: the lock is held; nothing was changed\n');
    stderr = [];
    expect(await fails(new Error('boom')).run(io([]))).toBe(1);
    expect(stderr.join('')).toBe('error: unexpected failure: boom; run again with --verbose for the stack trace\n');
  });

  it('with --json (events), the error is a JSON event; with a JSON document, it stays text', async () => {
    const spec = { ...DEMO, options: { ...DEMO.options, json: { help: 'JSON' } } } as const satisfies CommandSpec;
    const failing = (json: 'events' | 'document') =>
      defineCommand({ spec, json, help: 'x', run: async () => Promise.reject(new SwitchyardError('no', { exitCode: 3 })) });
    expect(await failing('events').run(io(['--json']))).toBe(3);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ event: 'error', message: 'no' });
    stdout = [];
    stderr = [];
    expect(await failing('document').run(io(['--json']))).toBe(3);
    expect(stdout.join('')).toBe('');
    expect(stderr.join('')).toBe('error: no\n');
  });

  describe('with a config', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'define-command-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const envFile = path.join(dir, 'app.env');
    writeFileSync(envFile, `APP_NAME=demo\nREPO=${dir}/repo.git\nDEPLOY_ROOT=${dir}/root\n`);

    it('loads it before run(), and the reporter run() gets hides its secrets', async () => {
      const secret = 'tok-5ecret-value';
      const command = defineCommand({
        spec: DEMO,
        help: 'x',
        config: true,
        async run({ config, reporter }) {
          reporter.info(`app ${config.appName}, token ${secret}`);
          return 0;
        },
      });
      expect(await command.run(io([], { NO_COLOR: '1', DEPLOY_ENV_FILE: envFile, DEMO_API_TOKEN: secret }))).toBe(0);
      expect(stdout.join('')).toBe('app demo, token [REDACTED]\n');
    });

    it("'lazy': run() loads it itself and can go on when it does not load", async () => {
      const lazy = defineCommand({
        spec: DEMO,
        help: 'x',
        config: 'lazy',
        async run({ loadConfig, reporter }) {
          try {
            reporter.info(`loaded ${loadConfig().config.appName}`);
          } catch (error) {
            reporter.info(`not loaded: ${(error as SwitchyardError).message.split(' ').slice(0, 2).join(' ')}`);
          }
          return 0;
        },
      });
      expect(await lazy.run(io([], { NO_COLOR: '1', DEPLOY_ENV_FILE: envFile }))).toBe(0);
      expect(await lazy.run(io([], { NO_COLOR: '1', DEPLOY_ENV_FILE: path.join(dir, 'missing.env') }))).toBe(0);
      expect(stdout.join('')).toBe('loaded demo\nnot loaded: config file\n');
    });
  });
});

describe('the argument count, from the positionals', () => {
  it('says what each command said before the frame', () => {
    expect(argumentCountProblem(SPECS.deploy, 1)).toBeUndefined();
    expect(argumentCountProblem(SPECS.deploy, 2)).toBe('deploy takes at most one commit; got 2 arguments');
    expect(argumentCountProblem(SPECS.restart, 0)).toBeUndefined();
    expect(argumentCountProblem(SPECS.restart, 1)).toBe('restart takes no arguments');
    expect(argumentCountProblem(SPECS.stop, 0)).toBe('stop needs <APP_NAME>; got 0 argument(s)');
    expect(argumentCountProblem(SPECS.stop, 2)).toBe('stop needs <APP_NAME>; got 2 argument(s)');
    expect(argumentCountProblem(SPECS.start, 2)).toBe('start needs <APP_NAME> <APP_DIR> <PORT>; got 2 argument(s)');
    expect(argumentCountProblem(SPECS.start, 3)).toBeUndefined();
    expect(argumentCountProblem(SPECS.exec, 0)).toBe('exec needs a command: ./deploy.ts exec -- <command> [args...]');
    expect(argumentCountProblem(SPECS.exec, 5)).toBeUndefined();
    expect(argumentCountProblem(SPECS.env, 0)).toBeUndefined();
    expect(argumentCountProblem(SPECS.env, 9)).toBeUndefined();
  });
});
