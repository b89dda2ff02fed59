import { describe, expect, it } from 'vitest';
import { capture, probeCommand, runCommand, runShell } from '../lib/host/run.ts';

/** lib/host/run.ts starts every child process (node's child_process, no execa): what callers rely on. */
describe('runCommand', () => {
  it('streams the lines of stdout and stderr without newlines or \\r, and keeps the tail', async () => {
    const lines: string[] = [];
    const result = await runShell('echo a; echo b >&2; printf "c\\r\\nd"', { onLine: (line) => void lines.push(line) });
    expect(result.exitCode).toBe(0);
    expect([...lines].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(result.tail.sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('waits for a returned promise before the next line (backpressure) and keeps every line in order', async () => {
    const lines: string[] = [];
    await runShell('seq 1 5000', { onLine: (line) => (lines.push(line), lines.length % 500 === 0 ? new Promise((resolve) => setTimeout(resolve, 5)) : undefined) });
    expect(lines.length).toBe(5000);
    expect(lines.every((line, index) => line === String(index + 1))).toBe(true);
  });

  it('says how a command failed: exit code, signal, not found, timeout, interruption', async () => {
    await expect(runShell('echo oops; exit 3')).rejects.toMatchObject({ message: "`/bin/sh -c 'echo oops; exit 3'` failed with exit code 3", details: ['oops'] });
    await expect(runShell('kill -9 $$')).rejects.toThrow(/was killed by SIGKILL/);
    await expect(runCommand(['switchyard-no-such-command'])).rejects.toThrow(/`switchyard-no-such-command` could not run \(spawn switchyard-no-such-command ENOENT\)/);
    await expect(runCommand(['sleep', '5'], { timeoutMs: 100 })).rejects.toThrow(/timed out after 100ms/);
    const controller = new AbortController();
    setTimeout(() => controller.abort('SIGINT'), 100);
    await expect(runShell('sleep 5; echo never', { signal: controller.signal })).rejects.toThrow(/was stopped by the interruption/);
  });
});

describe('capture and probeCommand', () => {
  it('capture returns trimmed stdout and throws with the output on failure', async () => {
    expect(await capture(['sh', '-c', 'echo "  hi  "; echo noise >&2'])).toBe('hi');
    await expect(capture(['sh', '-c', 'echo why >&2; exit 4'])).rejects.toMatchObject({ message: "`sh -c 'echo why >&2; exit 4'` failed with exit code 4", details: ['why'] });
  });

  it('probeCommand never throws: exit code, output without the final newline, timeout, not found', async () => {
    expect(await probeCommand(['sh', '-c', 'echo out; echo err >&2; exit 2'], { timeoutMs: 5000 })).toEqual({ exitCode: 2, stdout: 'out', stderr: 'err', timedOut: false, error: undefined });
    expect(await probeCommand(['sleep', '5'], { timeoutMs: 100 })).toMatchObject({ exitCode: -1, timedOut: true });
    expect(await probeCommand(['switchyard-no-such-command'], { timeoutMs: 1000 })).toMatchObject({ exitCode: -1, error: 'switchyard-no-such-command was not found' });
  });
});
