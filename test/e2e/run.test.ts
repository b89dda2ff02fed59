import { describe, expect, it } from 'vitest';
import { isAlive, signalProcess } from '../../lib/host/process.ts';
import { capture, probeCommand, runCommand, runShell } from '../../lib/host/run.ts';
import { waitFor } from '../../harness/wait.ts';

/** These commands run with this test's own environment, handed in as every caller of lib/host/run.ts does. */
const env = process.env;
import { isSwitchyardError, type SwitchyardError } from '../../lib/errors.ts';

/** lib/host/run.ts starts every child process (through execa): what callers rely on. */
describe('runCommand', () => {
  it('a failure carries how the command ended as data: exit code, signal, timeout, interruption', async () => {
    const ended = async (command: string, options: Omit<Parameters<typeof runShell>[1], 'env'> = {}) => {
      const error = await runShell(command, { ...options, env }).then(() => undefined, (caught: unknown) => caught);
      expect(isSwitchyardError(error), String(error)).toBe(true);
      return (error as SwitchyardError).command;
    };
    expect(await ended('exit 7')).toEqual({ exitCode: 7, signal: null, timedOut: false, canceled: false });
    expect(await ended('kill -KILL $$')).toMatchObject({ signal: 'SIGKILL', timedOut: false, canceled: false });
    expect(await ended('sleep 30', { timeoutMs: 200 })).toMatchObject({ timedOut: true, canceled: false });
    expect(await ended('sleep 30', { signal: AbortSignal.timeout(200) })).toMatchObject({ timedOut: false, canceled: true });
  });

  it('streams the lines of stdout and stderr without newlines or \\r, and keeps the tail', async () => {
    const lines: string[] = [];
    const result = await runShell('echo a; echo b >&2; printf "c\\r\\nd"', { env, onLine: (line) => void lines.push(line) });
    expect(result.exitCode).toBe(0);
    expect([...lines].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(result.tail.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('waits for a returned promise before the next line (backpressure) and keeps every line in order', async () => {
    const lines: string[] = [];
    await runShell('seq 1 5000', { env, onLine: (line) => (lines.push(line), lines.length % 500 === 0 ? new Promise((resolve) => setTimeout(resolve, 5)) : undefined) });
    expect(lines.length).toBe(5000);
    expect(lines.every((line, index) => line === String(index + 1))).toBe(true);
  });

  it('says how a command failed: exit code, signal, not found, timeout, interruption', async () => {
    await expect(runShell('echo oops; exit 3', { env })).rejects.toMatchObject({ message: "`/bin/sh -c 'echo oops; exit 3'` failed with exit code 3", details: ['oops'] });
    await expect(runShell('kill -9 $$', { env })).rejects.toThrow(/was killed by SIGKILL/);
    await expect(runCommand(['switchyard-no-such-command'], { env })).rejects.toThrow(/`switchyard-no-such-command` could not run \(spawn switchyard-no-such-command ENOENT\)/);
    await expect(runCommand(['sleep', '5'], { env, timeoutMs: 100 })).rejects.toThrow(/timed out after 100ms/);
    const controller = new AbortController();
    // Interrupted once the command runs (its first line), not after a time a busy host may not keep.
    const onLine = (line: string) => void (line === 'started' && controller.abort('SIGINT'));
    await expect(runShell('echo started; sleep 5; echo never', { env, signal: controller.signal, onLine })).rejects.toThrow(/was stopped by the interruption/);
  });
});

describe('the bound ends the whole process group (issue 23 item 4)', () => {
  /** The pid a command printed first (its background child), once it has. */
  const firstLine = () => {
    let resolve!: (pid: number) => void;
    const pid = new Promise<number>((done) => (resolve = done));
    return { pid, onLine: (line: string) => void (/^\d+$/.test(line) && resolve(Number(line))) };
  };
  /**
   * A dying process closes its pipes before the kernel has finished its exit, so the command may end a
   * moment before its child is gone (seen once on a loaded CI machine). Seconds, against a 600 s sleep.
   */
  const gone = (pid: number) => waitFor(`the shell's child (pid ${pid}) to be gone`, () => !isAlive(pid), { timeoutMs: 3000 });

  it('a shell whose child sleeps on is ended with its child at the timeout, not when the child is done', async () => {
    const child = firstLine();
    // Before: only /bin/sh got the signal; its sleep kept the pipes, so this waited the whole 600 s.
    await expect(runShell('sleep 600 & echo $!; wait', { env, timeoutMs: 300, onLine: child.onLine })).rejects.toThrow(/timed out after 300ms/);
    await gone(await child.pid);
  }, 30_000);

  it('an interruption ends the child of the shell too', async () => {
    const child = firstLine();
    const controller = new AbortController();
    const running = runShell('sleep 600 & echo $!; wait', { env, signal: controller.signal, onLine: child.onLine });
    await child.pid;
    controller.abort('SIGINT');
    await expect(running).rejects.toThrow(/was stopped by the interruption/);
    await gone(await child.pid);
  }, 30_000);

  it('a process that left the group (setsid) and keeps the pipes does not keep the command past its bound', async () => {
    const child = firstLine();
    try {
      await expect(runShell('setsid sleep 600 & echo $!; wait', { env, timeoutMs: 300, onLine: child.onLine })).rejects.toThrow(/timed out after 300ms/);
    } finally {
      // Out of reach of the group kill by design: stopped here by its pid.
      signalProcess(await child.pid, 'SIGKILL');
    }
  }, 30_000);

  it('probeCommand ends the whole group at its timeout', async () => {
    const started = await probeCommand(['/bin/sh', '-c', 'sleep 600 & echo $!; wait'], { env, timeoutMs: 300 });
    expect(started).toMatchObject({ exitCode: -1, timedOut: true });
    await gone(Number(started.stdout.trim()));
  }, 30_000);
});

describe('capture and probeCommand', () => {
  it('capture returns trimmed stdout and throws with the output on failure', async () => {
    expect(await capture(['sh', '-c', 'echo "  hi  "; echo noise >&2'], { env })).toBe('hi');
    await expect(capture(['sh', '-c', 'echo why >&2; exit 4'], { env })).rejects.toMatchObject({ message: "`sh -c 'echo why >&2; exit 4'` failed with exit code 4", details: ['why'] });
  });

  it('probeCommand never throws: exit code, output without the final newline, timeout, not found', async () => {
    expect(await probeCommand(['sh', '-c', 'echo out; echo err >&2; exit 2'], { env, timeoutMs: 5000 })).toEqual({ exitCode: 2, stdout: 'out', stderr: 'err', timedOut: false, error: undefined });
    expect(await probeCommand(['sleep', '5'], { env, timeoutMs: 100 })).toMatchObject({ exitCode: -1, timedOut: true });
    expect(await probeCommand(['switchyard-no-such-command'], { env, timeoutMs: 1000 })).toMatchObject({ exitCode: -1, error: 'switchyard-no-such-command was not found' });
  });
});
