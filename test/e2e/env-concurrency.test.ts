import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostBase, type HostBase } from '../../harness/host.ts';

/** Two `env set` at once, through ./deploy.ts as an operator (or two) would run them. */
describe('concurrent env set', () => {
  let host: HostBase;

  beforeAll(async () => {
    host = await hostBase('switchyard-defects-b-env-');
    host.writeEnv(host.env);
  }, 60_000);
  afterAll(() => {
    if (host) rmSync(host.dir, { recursive: true, force: true });
  });

  it('keeps every key over 20 rounds of two at once (each read-merge-write is locked)', async () => {
    const lost: string[] = [];
    for (let round = 0; round < 20; round++) {
      const [first, second] = await Promise.all([host.run(['env', 'set', `FIRST_${round}=1`]), host.run(['env', 'set', `SECOND_${round}=2`])]);
      expect(first.exitCode, first.output).toBe(0);
      expect(second.exitCode, second.output).toBe(0);
      const listed = await host.run(['env']);
      for (const key of [`FIRST_${round}`, `SECOND_${round}`]) if (!listed.stdout.includes(`${key}=[REDACTED]`)) lost.push(key);
    }
    expect(lost, `keys lost by a concurrent env set: ${lost.join(', ')}`).toEqual([]);
    expect(readdirSync(path.join(host.deployRoot, 'shared')).filter((name) => name.includes('.lock') || name.endsWith('.tmp'))).toEqual([]);
  }, 600_000);

  it('takes over a lock left by an env set that was killed (its pid is gone)', async () => {
    const lock = path.join(host.deployRoot, 'shared', 'app.env.lock');
    mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
    writeFileSync(lock, JSON.stringify({ pid: 999_999_999, start: 1 }));
    const result = await host.run(['env', 'set', 'AFTER_KILL=1']);
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.run(['env'])).stdout).toContain('AFTER_KILL=[REDACTED]');
    expect(readdirSync(path.join(host.deployRoot, 'shared')).filter((name) => name.includes('.lock'))).toEqual([]);
  }, 60_000);

  it('on a read-only DEPLOY_ROOT (a real read-only tmpfs) says so in one line, not "unexpected failure: EROFS"', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs: run it as root (CI does)');
    const root = path.join(host.dir, 'readonly-root');
    mkdirSync(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0711', 'tmpfs', root]);
    try {
      mkdirSync(path.join(root, 'shared'), { mode: 0o700 });
      writeFileSync(path.join(root, 'shared', 'app.env'), 'A=1\n', { mode: 0o600 });
      execFileSync('mount', ['-o', 'remount,ro', root]);
      const result = await host.run(['env', 'set', 'B=2'], { DEPLOY_ROOT: root });
      expect(result.exitCode, result.output).toBe(1);
      expect(result.output).not.toMatch(/unexpected/);
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
      expect(errors).toEqual([`error: cannot write APP_ENV_FILE ${root}/shared/app.env: the file system is read-only; APP_ENV_FILE was not changed; remount it read-write (or point APP_ENV_FILE at a writable place), then run this again`]);
    } finally {
      execFileSync('umount', [root]);
    }
  }, 120_000);
});
