import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { SwitchyardError } from '../errors.ts';
import { isAlive, signalGroup, signalProcess } from './process.ts';
import { redactUrlCredentials } from '../config/redact.ts';

/** The only place that starts child processes. Commands are argv arrays; a shell runs only a user's own configured string. */

export type RunOptions = {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Every output line (stdout and stderr merged), as it arrives; a returned promise pauses reading (backpressure). */
  onLine?: (line: string) => unknown;
  /** Aborting kills the command's whole process group. */
  signal?: AbortSignal;
  timeoutMs?: number;
};

export type RunResult = { exitCode: number; tail: string[] };

const TAIL_LINES = 20;

/** An argv as a shell would show it; credentials in a URL argument (REPO) never reach a message. */
export function describeArgv(argv: readonly string[]): string {
  return argv.map((arg) => redactUrlCredentials(arg)).map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The environment a child gets when none is given: this process's own (the one place that reads it for children). */
export function inheritedEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** How a child ended: its exit code, the signal that killed it, or why it could not run at all. */
type Ending = { code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException };

/**
 * A child with piped stdout and stderr (stdin ignored), read as text: node's own child_process, not
 * execa (whose module alone costs ~50 ms at every start of the CLI). `ended` resolves once the
 * process exited and both pipes closed, or it could not start.
 */
function startChild(argv: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined>; detached?: boolean }): { child: ChildProcess; ended: Promise<Ending> } {
  const [file, ...args] = argv;
  const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  const ended = new Promise<Ending>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, ended };
}

/** Each line of both pipes as it arrives (no newline, no \r), in order; reading pauses while `each` returns a pending promise. */
async function forEachLine(streams: Readable[], each: (line: string) => unknown): Promise<void> {
  const queue: string[] = [];
  let open = streams.length;
  let wake: (() => void) | undefined;
  const notify = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  for (const stream of streams) {
    const decoder = new StringDecoder('utf8');
    let partial = '';
    const take = (text: string, last: boolean) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop()!;
      if (last && partial) parts.push(partial);
      for (const part of parts) queue.push(part.endsWith('\r') ? part.slice(0, -1) : part);
      notify();
    };
    stream.on('data', (chunk: Buffer) => take(decoder.write(chunk), false));
    // A pipe that fails is closed next (autoDestroy): what it had is kept, the command's exit says the rest.
    stream.on('error', () => undefined);
    stream.once('close', () => {
      take(decoder.end(), true);
      open--;
      notify();
    });
  }
  for (;;) {
    while (queue.length > 0) {
      const written = each(queue.shift()!);
      if (written instanceof Promise) {
        for (const stream of streams) stream.pause();
        try {
          await written;
        } finally {
          for (const stream of streams) stream.resume();
        }
      }
    }
    if (open === 0) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

/** After `timeoutMs`, `signal` to the child (and SIGKILL `forceAfterMs` later if it is still there); returns whether it fired. */
function killAfter(child: ChildProcess, timeoutMs: number | undefined, signal: NodeJS.Signals, forceAfterMs?: number): { timedOut: () => boolean; clear: () => void } {
  let fired = false;
  let force: NodeJS.Timeout | undefined;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    fired = true;
    child.kill(signal);
    if (forceAfterMs !== undefined) force = setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), forceAfterMs);
  }, timeoutMs);
  return { timedOut: () => fired, clear: () => (clearTimeout(timer), clearTimeout(force)) };
}

/** Run to completion, streaming lines with bounded memory; throws a SwitchyardError with the last lines on failure. */
export async function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const tail: string[] = [];
  let started;
  try {
    started = startChild(argv, { cwd: options.cwd, env: options.env, detached: true });
  } catch (error) {
    throw new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${(error as Error).message}`);
  }
  const { child, ended } = started;
  let stoppedByAbort = false;
  // A signal that was aborted before the command started (a `failed` hook after Ctrl-C) does not stop it.
  const abort = () => {
    stoppedByAbort = true;
    if (child.pid) signalGroup(child.pid, 'SIGTERM');
  };
  if (!options.signal?.aborted) options.signal?.addEventListener('abort', abort, { once: true });
  const timeout = killAfter(child, options.timeoutMs, 'SIGTERM', 5000);
  try {
    await forEachLine([child.stdout!, child.stderr!], (line) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      return options.onLine?.(line);
    });
    const result = await ended;
    if (stoppedByAbort) throw new SwitchyardError(`\`${describeArgv(argv)}\` was stopped by the interruption`, { details: tail });
    if (result.error || result.code !== 0 || timeout.timedOut()) {
      const why = timeout.timedOut()
        ? `timed out after ${options.timeoutMs}ms`
        : result.error
          ? `could not run (${result.error.message})`
          : result.code !== null
            ? `failed with exit code ${result.code}`
            : `was killed by ${result.signal}`;
      throw new SwitchyardError(`\`${describeArgv(argv)}\` ${why}`, { details: errorLinesFirst(tail) });
    }
    return { exitCode: 0, tail };
  } finally {
    timeout.clear();
    options.signal?.removeEventListener('abort', abort);
    if (child.pid && stoppedByAbort && isAlive(child.pid)) signalGroup(child.pid, 'SIGKILL');
  }
}

/** A command string the operator configured, run as written by /bin/sh (never combined with other input). */
export function runShell(command: string, options: RunOptions = {}): Promise<RunResult> {
  return runCommand(['/bin/sh', '-c', command], options);
}

/** Both pipes' whole text, at most `maxBuffer` characters each (more kills the child and counts as a failure). */
async function collect(
  argv: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; detached?: boolean; maxBuffer: number; timeoutMs?: number; killSignal?: NodeJS.Signals },
): Promise<Ending & { stdout: string; stderr: string; timedOut: boolean; overflow: boolean }> {
  const { child, ended } = startChild(argv, options);
  const timeout = killAfter(child, options.timeoutMs, options.killSignal ?? 'SIGTERM');
  let overflow = false;
  const texts = [child.stdout!, child.stderr!].map((stream) => {
    const decoder = new StringDecoder('utf8');
    const text = { value: '' };
    stream.on('data', (chunk: Buffer) => {
      text.value += decoder.write(chunk);
      if (text.value.length > options.maxBuffer && !overflow) {
        overflow = true;
        child.kill();
      }
    });
    stream.on('error', () => undefined);
    stream.once('close', () => (text.value += decoder.end()));
    return text;
  });
  try {
    const result = await ended;
    // execa's default: one final newline is not part of the output.
    const strip = (value: string) => value.slice(0, options.maxBuffer).replace(/\r?\n$/, '');
    return { ...result, stdout: strip(texts[0].value), stderr: strip(texts[1].value), timedOut: timeout.timedOut(), overflow };
  } finally {
    timeout.clear();
  }
}

/** Run and return trimmed stdout; throws with stderr on failure. */
export async function capture(argv: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<string> {
  let result;
  try {
    result = await collect(argv, { cwd: options.cwd, env: options.env, maxBuffer: 10_000_000 });
  } catch (error) {
    throw new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${(error as Error).message}`);
  }
  if (result.error || result.code !== 0 || result.overflow) {
    const output = `${result.stderr}\n${result.stdout}`.trim().split('\n').slice(-TAIL_LINES);
    const why = result.error ? `could not run (${result.error.message})` : result.overflow ? 'printed more than 10 MB' : `failed with exit code ${result.code ?? result.signal}`;
    throw new SwitchyardError(`\`${describeArgv(argv)}\` ${why}`, { details: output });
  }
  return result.stdout.trim();
}

/** Run a check (doctor, init): never throws, never waits past `timeoutMs`, the whole process group killed then. */
export async function probeCommand(argv: readonly string[], options: { env?: Record<string, string | undefined>; timeoutMs: number; cwd?: string }): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean; error?: string }> {
  try {
    const result = await collect(argv, { cwd: options.cwd, env: options.env, detached: true, maxBuffer: 20_000_000, timeoutMs: options.timeoutMs, killSignal: 'SIGKILL' });
    const notFound = result.error?.code === 'ENOENT';
    const error = notFound
      ? `${argv[0]} was not found`
      : result.error
        ? result.error.message
        : result.timedOut
          ? `Command timed out after ${options.timeoutMs} milliseconds: ${describeArgv(argv)}`
          : result.code === null
            ? `Command was killed with ${result.signal}: ${describeArgv(argv)}`
            : result.overflow
              ? `Command printed more than 20 MB: ${describeArgv(argv)}`
              : undefined;
    return { exitCode: result.code ?? -1, stdout: result.stdout, stderr: result.stderr, timedOut: result.timedOut, error };
  } catch (error) {
    return { exitCode: -1, stdout: '', stderr: '', timedOut: false, error: (error as Error).message };
  }
}

/**
 * Start a process that outlives us: its own session (so an SSH hang-up does not reach it), stdio to the given fds.
 * Returns its pid, which is also its process group id.
 */
export function spawnDetached(argv: readonly string[], options: { cwd: string; env: Record<string, string | undefined>; logFd: number }): number {
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
export function runAttached(argv: readonly string[], options: { cwd: string; env: Record<string, string | undefined> }): Promise<number> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => () => child.pid && signalProcess(child.pid, signal);
    const handlers = { SIGINT: () => undefined, SIGTERM: forward('SIGTERM'), SIGHUP: forward('SIGHUP') };
    for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
    const done = () => {
      for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
    };
    child.on('error', (error) => {
      done();
      const code = (error as NodeJS.ErrnoException).code;
      reject(new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${code === 'ENOENT' ? `${file} was not found (PATH is ${options.env.PATH ?? 'unset'})` : error.message}`, { exitCode: code === 'ENOENT' ? 127 : 126 }));
    });
    child.on('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    });
  });
}
