import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeCommand } from '../../lib/host/run.ts';

// probeCommand with `output: 'ignore'` is over at its command's exit, as `ssh -N` with ControlPersist needs:
// the master it leaves in the background must not hold the caller until it ends.
describe("probeCommand's output: 'ignore'", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'probe-'));
  const pidFile = path.join(dir, 'background.pid');
  let background: number | undefined;
  afterAll(() => {
    if (background) process.kill(background, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns at the exit of the command while a process it started in the background still runs', async () => {
    const script = `sleep 60 & echo $! > '${pidFile}'; exit 3`;
    const result = await probeCommand(['sh', '-c', script], { env: { PATH: process.env.PATH }, timeoutMs: 30_000, output: 'ignore' });
    background = Number(readFileSync(pidFile, 'utf8'));
    expect(result).toMatchObject({ exitCode: 3, timedOut: false, stdout: '' });
    // Still running: the caller did not wait for it.
    expect(() => process.kill(background!, 0)).not.toThrow();
  });
});
