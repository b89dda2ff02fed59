import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { execa } from 'execa';
import { SwitchyardError } from './errors.ts';
import { isAlive, signalGroup, signalProcess } from './process.ts';
import { redactUrlCredentials } from './redact.ts';

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

/** Run to completion, streaming lines with bounded memory; throws a SwitchyardError with the last lines on failure. */
export async function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  const tail: string[] = [];
  let child;
  try {
    child = execa(file, args, {
      cwd: options.cwd,
      env: options.env,
      extendEnv: options.env === undefined,
      stdin: 'ignore',
      all: true,
      buffer: false,
      reject: false,
      detached: true,
      timeout: options.timeoutMs,
      killSignal: 'SIGTERM',
    });
  } catch (error) {
    throw new SwitchyardError(`\`${describeArgv(argv)}\` could not start: ${(error as Error).message}`);
  }
  let stoppedByAbort = false;
  // A signal that was aborted before the command started (a `failed` hook after Ctrl-C) does not stop it.
  const abort = () => {
    stoppedByAbort = true;
    if (child.pid) signalGroup(child.pid, 'SIGTERM');
  };
  if (!options.signal?.aborted) options.signal?.addEventListener('abort', abort, { once: true });
  try {
    for await (const line of child.iterable({ from: 'all' })) {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      const written = options.onLine?.(line);
      if (written instanceof Promise) await written;
    }
    const result = await child;
    if (stoppedByAbort) throw new SwitchyardError(`\`${describeArgv(argv)}\` was stopped by the interruption`, { details: tail });
    if (result.failed) {
      const why = result.timedOut
        ? `timed out after ${options.timeoutMs}ms`
        : result.exitCode !== undefined
          ? `failed with exit code ${result.exitCode}`
          : result.signal
            ? `was killed by ${result.signal}`
            : `could not run (${result.shortMessage})`;
      throw new SwitchyardError(`\`${describeArgv(argv)}\` ${why}`, { details: errorLinesFirst(tail) });
    }
    return { exitCode: 0, tail };
  } finally {
    options.signal?.removeEventListener('abort', abort);
    if (child.pid && stoppedByAbort && isAlive(child.pid)) signalGroup(child.pid, 'SIGKILL');
  }
}

/** A command string the operator configured, run as written by /bin/sh (never combined with other input). */
export function runShell(command: string, options: RunOptions = {}): Promise<RunResult> {
  return runCommand(['/bin/sh', '-c', command], options);
}

/** Run and return trimmed stdout; throws with stderr on failure. */
export async function capture(argv: readonly string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<string> {
  const [file, ...args] = argv;
  const result = await execa(file, args, { cwd: options.cwd, env: options.env, extendEnv: options.env === undefined, stdin: 'ignore', reject: false, maxBuffer: 10_000_000 });
  if (result.failed) {
    const output = `${result.stderr}\n${result.stdout}`.trim().split('\n').slice(-TAIL_LINES);
    throw new SwitchyardError(`\`${describeArgv(argv)}\` failed with exit code ${result.exitCode ?? result.signal}`, { details: output });
  }
  return String(result.stdout).trim();
}

/** Run a check (doctor, init): never throws, never waits past `timeoutMs`, the whole process group killed then. */
export async function probeCommand(argv: readonly string[], options: { env?: Record<string, string | undefined>; timeoutMs: number; cwd?: string }): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean; error?: string }> {
  const [file, ...args] = argv;
  try {
    const result = await execa(file, args, { cwd: options.cwd, env: options.env, extendEnv: options.env === undefined, stdin: 'ignore', reject: false, timeout: options.timeoutMs, killSignal: 'SIGKILL', forceKillAfterDelay: false, maxBuffer: 20_000_000, detached: true, cleanup: true });
    const notFound = (result as { code?: string }).code === 'ENOENT';
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), timedOut: Boolean(result.timedOut), error: notFound ? `${file} was not found` : result.exitCode === undefined ? result.shortMessage : undefined };
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
