import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { execa as Execa } from 'execa';
import { SwitchyardError } from '../errors.ts';
import { isGroupAlive, signalGroup, signalProcess } from './process.ts';
import { redactUrlCredentials } from '../config/redact.ts';
import { shellQuote } from './commands/quote.ts';

/**
 * The only place that starts child processes, through execa (the design card's choice). Commands are
 * argv arrays; a shell runs only a user's own configured string. Every bounded command runs in its own
 * process group (`detached`) and is ended with the whole group at its bound: execa's own timeout and
 * cancelSignal signal only the direct child, so a `/bin/sh -c` whose child sleeps on would keep the
 * pipes (and the deploy) past the bound.
 */

export type RunOptions = {
  cwd?: string;
  /** The child's whole environment (nothing is inherited): lib reads no environment of its own, its callers hand one in. */
  env: Record<string, string | undefined>;
  /** Every output line (stdout and stderr, each split on its own), as it arrives; a returned promise pauses reading (backpressure). */
  onLine?: (line: string) => unknown;
  /** Aborting kills the command's whole process group. */
  signal?: AbortSignal;
  timeoutMs?: number;
};

export type RunResult = { exitCode: number; tail: string[] };

const TAIL_LINES = 20;

/** After the bound's first signal: SIGKILL to the group this much later, then stop reading pipes an escaped process (setsid) still holds. */
const FORCE_KILL_AFTER_MS = 5000;
const PIPES_GRACE_MS = 1000;

/** An argv as a shell would show it; credentials in a URL argument (REPO) never reach a message. */
export function describeArgv(argv: readonly string[]): string {
  return argv.map((arg) => shellQuote(redactUrlCredentials(arg))).join(' ');
}

/**
 * execa, loaded at the first command (run-piped.ts shares it): `status` and `--version` often run none, and its
 * modules are a tenth of the CLI's start-up (the bundle defers evaluating them until this import).
 */
let execaModule: Promise<typeof import('execa')> | undefined;
export const loadExeca = async (): Promise<typeof Execa> => (await (execaModule ??= import('execa'))).execa;

/** execa with what every command here shares: the given environment as it is (no merge), stdin closed, no rejection (we word the failure). */
function start(
  execa: typeof Execa,
  argv: readonly string[],
  options: { cwd?: string; env: Record<string, string | undefined>; detached?: boolean; buffer?: boolean; maxBuffer?: number },
) {
  const [file, ...args] = argv;
  return execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    stdin: 'ignore',
    detached: options.detached ?? false,
    buffer: options.buffer ?? false,
    ...(options.maxBuffer ? { maxBuffer: options.maxBuffer } : {}),
    reject: false,
    // Our own exit does not kill a child: a deploy interrupted mid-command ends it through the abort signal.
    cleanup: false,
    stripFinalNewline: true,
  });
}

/**
 * The bound of a command in its own process group: at `timeoutMs`, or when `signal` aborts, `first` to
 * the whole group; SIGKILL to the group FORCE_KILL_AFTER_MS later if any of it remains; then the pipes
 * are closed on our side, so even a process that left the group cannot keep us waiting.
 */
function boundGroup(
  subprocess: { pid?: number; stdout: NodeJS.ReadableStream | null; stderr: NodeJS.ReadableStream | null },
  options: { timeoutMs?: number; signal?: AbortSignal; first: NodeJS.Signals },
): { ended: () => 'timeout' | 'abort' | undefined; clear: () => void } {
  let why: 'timeout' | 'abort' | undefined;
  const timers: NodeJS.Timeout[] = [];
  const fire = (reason: 'timeout' | 'abort') => {
    if (why) return;
    why = reason;
    const pid = subprocess.pid;
    if (!pid) return;
    signalGroup(pid, options.first);
    timers.push(
      setTimeout(() => {
        if (isGroupAlive(pid)) signalGroup(pid, 'SIGKILL');
        timers.push(
          setTimeout(
            () =>
              [subprocess.stdout, subprocess.stderr].forEach((stream) =>
                (stream as unknown as { destroy?: () => void } | null)?.destroy?.(),
              ),
            PIPES_GRACE_MS,
          ),
        );
      }, options.first === 'SIGKILL' ? 0 : FORCE_KILL_AFTER_MS),
    );
  };
  if (options.timeoutMs !== undefined) timers.push(setTimeout(() => fire('timeout'), options.timeoutMs));
  const abort = () => fire('abort');
  // A signal that was aborted before the command started (a `failed` hook after Ctrl-C) does not stop it.
  if (options.signal && !options.signal.aborted) options.signal.addEventListener('abort', abort, { once: true });
  return {
    ended: () => why,
    clear: () => {
      for (const timer of timers) clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
    },
  };
}

type Spawned = ReturnType<typeof start>;

/** Each line of both pipes as it arrives, one call at a time in arrival order; reading pauses while `each` returns a pending promise. */
async function forEachLine(subprocess: Spawned, each: (line: string) => unknown): Promise<void> {
  let queue: Promise<unknown> = Promise.resolve();
  const read = async (from: 'stdout' | 'stderr') => {
    try {
      for await (const line of subprocess.iterable({ from })) {
        queue = queue.then(() => each(line));
        await queue;
      }
    } catch {
      // A pipe closed on our side at the bound (or that failed): what it had is kept, the command's end says the rest.
    }
  };
  await Promise.all([read('stdout'), read('stderr')]);
}

/** Why a finished execa result is a failure, in our words; undefined for success. */
function failureOf(result: {
  failed: boolean;
  exitCode?: number;
  signal?: string;
  code?: string;
  cause?: unknown;
  isMaxBuffer?: boolean;
}): string | undefined {
  if (!result.failed) return undefined;
  if (result.exitCode === undefined && result.signal === undefined) return `could not run (${(result.cause as Error | undefined)?.message ?? result.code ?? 'unknown error'})`;
  if (result.exitCode !== undefined && result.exitCode !== 0) return `failed with exit code ${result.exitCode}`;
  if (result.signal) return `was killed by ${result.signal}`;
  return `could not run (${(result.cause as Error | undefined)?.message ?? 'unknown error'})`;
}

/** Run to completion, streaming lines with bounded memory; throws a SwitchyardError with the last lines on failure. */
export async function runCommand(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const tail: string[] = [];
  const execa = await loadExeca();
  let subprocess: Spawned;
  try {
    subprocess = start(execa, argv, { cwd: options.cwd, env: options.env, detached: true });
  } catch (error) {
    throw new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${(error as Error).message}`);
  }
  const bound = boundGroup(subprocess, { timeoutMs: options.timeoutMs, signal: options.signal, first: 'SIGTERM' });
  try {
    await forEachLine(subprocess, (line) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      return options.onLine?.(line);
    });
    const result = await subprocess;
    const ended = bound.ended();
    const command = { exitCode: result.exitCode ?? null, signal: result.signal ?? null, timedOut: ended === 'timeout', canceled: ended === 'abort' };
    if (ended === 'abort') throw new SwitchyardError(`\`${describeArgv(argv)}\` was stopped by the interruption`, { details: tail, command });
    const why = ended === 'timeout' ? `timed out after ${options.timeoutMs}ms` : failureOf(result);
    if (why) throw new SwitchyardError(`\`${describeArgv(argv)}\` ${why}`, { details: errorLinesFirst(tail), command });
    return { exitCode: 0, tail };
  } finally {
    bound.clear();
    // Whatever the command left in its group after an interruption or its bound goes with it.
    if (bound.ended() && subprocess.pid && isGroupAlive(subprocess.pid)) signalGroup(subprocess.pid, 'SIGKILL');
  }
}

/** The argv that runs a command string the operator configured, as written, by /bin/sh (never combined with other input). */
const shellArgv = (command: string) => ['/bin/sh', '-c', command];

export function runShell(command: string, options: RunOptions): Promise<RunResult> {
  return runCommand(shellArgv(command), options);
}

/** A configured command run as a check (doctor): probeCommand's bounds, /bin/sh as runShell. */
export function probeShell(command: string, options: Parameters<typeof probeCommand>[1]): ReturnType<typeof probeCommand> {
  return probeCommand(shellArgv(command), options);
}

/** Run and return trimmed stdout; throws with stderr on failure. */
export async function capture(
  argv: readonly string[],
  options: { cwd?: string; env: Record<string, string | undefined> },
): Promise<string> {
  const execa = await loadExeca();
  let result;
  try {
    result = await start(execa, argv, { cwd: options.cwd, env: options.env, buffer: true, maxBuffer: 10_000_000 });
  } catch (error) {
    throw new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${(error as Error).message}`);
  }
  const stdout = String(result.stdout ?? '');
  if (result.failed) {
    const output = `${String(result.stderr ?? '')}\n${stdout}`.trim().split('\n').slice(-TAIL_LINES);
    const why = result.isMaxBuffer ? 'printed more than 10 MB' : result.exitCode === undefined && result.signal === undefined ? failureOf(result)! : `failed with exit code ${result.exitCode ?? result.signal}`;
    throw new SwitchyardError(`\`${describeArgv(argv)}\` ${why}`, { details: output });
  }
  return stdout.trim();
}

/** Run a check (doctor, init): never throws, never waits past `timeoutMs`, the whole process group killed then. */
export async function probeCommand(
  argv: readonly string[],
  options: { env: Record<string, string | undefined>; timeoutMs: number; cwd?: string },
): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean; error?: string }> {
  try {
    const subprocess = start(await loadExeca(), argv, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      buffer: true,
      maxBuffer: 20_000_000,
    });
    const bound = boundGroup(subprocess, { timeoutMs: options.timeoutMs, first: 'SIGKILL' });
    let result;
    try {
      result = await subprocess;
    } finally {
      bound.clear();
    }
    const timedOut = bound.ended() === 'timeout';
    const code = result.exitCode ?? -1;
    const error = result.code === 'ENOENT'
      ? `${argv[0]} was not found`
      : result.failed && result.exitCode === undefined && result.signal === undefined
        ? ((result.cause as Error | undefined)?.message ?? String(result.code))
        : timedOut
          ? `Command timed out after ${options.timeoutMs} milliseconds: ${describeArgv(argv)}`
          : result.isMaxBuffer
            ? `Command printed more than 20 MB: ${describeArgv(argv)}`
            : result.exitCode === undefined
              ? `Command was killed with ${result.signal}: ${describeArgv(argv)}`
              : undefined;
    const text = (value: unknown) => String(value ?? '').slice(0, 20_000_000);
    return { exitCode: timedOut ? -1 : code, stdout: text(result.stdout), stderr: text(result.stderr), timedOut, error };
  } catch (error) {
    return { exitCode: -1, stdout: '', stderr: '', timedOut: false, error: (error as Error).message };
  }
}

/**
 * Start a process that outlives us: its own session (so an SSH hang-up does not reach it), stdio to the given fds.
 * Returns its pid, which is also its process group id. Node's own spawn, not execa: execa's value is the
 * promise of a result, and this process must never have one here (it outlives the command, unref'd,
 * writing to a log fd we close at once); execa would keep a handle on it and report its later end as an
 * unhandled rejection.
 */
export function spawnDetached(
  argv: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined>; logFd: number },
): number {
  const [file, ...args] = argv;
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', options.logFd, options.logFd] });
  // A spawn that fails reports through 'error' as well; the missing pid below is what we act on.
  child.on('error', () => undefined);
  if (!child.pid) throw new SwitchyardError(`could not start \`${describeArgv(argv)}\``);
  child.unref();
  return child.pid;
}

function errorLinesFirst(lines: string[]): string[] {
  const isError = (line: string) => /\b(error|err!|fatal|failed|cannot|exception)\b/i.test(line);
  return [...lines.filter(isError), ...lines.filter((line) => !isError(line))].slice(0, TAIL_LINES);
}


/**
 * Run attached to our terminal (stdin, stdout and stderr inherited), for `exec`'s one-off commands;
 * resolves with the exit code (128 + the signal's number when a signal ended it). Ctrl-C reaches the
 * command from the terminal itself; SIGTERM and SIGHUP sent to us are passed on to it.
 */
export async function runAttached(
  argv: readonly string[],
  options: { cwd: string; env: Record<string, string | undefined> },
): Promise<number> {
  const [file, ...args] = argv;
  const execa = await loadExeca();
  const subprocess = execa(file, args, { cwd: options.cwd, env: options.env, extendEnv: false, stdio: 'inherit', reject: false, cleanup: false });
  const forward = (signal: NodeJS.Signals) => () => subprocess.pid && signalProcess(subprocess.pid, signal);
  const handlers = { SIGINT: () => undefined, SIGTERM: forward('SIGTERM'), SIGHUP: forward('SIGHUP') };
  for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
  let result;
  try {
    result = await subprocess;
  } finally {
    for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
  }
  if (result.exitCode === undefined && result.signal === undefined) {
    const code = result.code;
    const message = (result.cause as Error | undefined)?.message ?? String(code);
    throw new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${code === 'ENOENT' ? `${file} was not found (PATH is ${options.env.PATH ?? 'unset'})` : message}`, { exitCode: code === 'ENOENT' ? 127 : 126 });
  }
  return result.exitCode ?? 128 + (result.signal ? (osConstants.signals[result.signal as NodeJS.Signals] ?? 0) : 0);
}
