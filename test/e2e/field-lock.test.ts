import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { acquireLock, describeTakeover, lockPath, releaseLock, type LockHolder } from '../../lib/record/lock.ts';
import { startTicks } from '../../lib/host/proc.ts';
import { SwitchyardError } from '../../lib/errors.ts';
import { waitFor } from '../../harness/wait.ts';

/** A live process whose command line looks like a Switchyard command (as a slot's supervisor's does). */
async function lookalike(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '/srv/switchyard/deploy.ts', 'supervisor'], { stdio: 'ignore' });
  await waitFor('the look-alike process to start', () => child.pid !== undefined && startTicks(child.pid) !== undefined, { timeoutMs: 10_000 });
  return child;
}

function writeLock(root: string, holder: Partial<LockHolder> & { pid: number }): void {
  mkdirSync(root, { recursive: true });
  writeFileSync(lockPath(root), JSON.stringify({ user: 'ana', command: 'deploy', startedAt: new Date().toISOString(), host: os.hostname(), ...holder }));
}

describe('acquireLock and process start times', () => {
  let other: ChildProcess;
  let root: string;

  beforeAll(async () => {
    other = await lookalike();
  });
  afterAll(() => {
    other?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('records the start time of the process taking it', () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-lock-'));
    const lock = acquireLock(root, 'deploy', 'ana');
    expect(lock.holder.processStart).toBe(startTicks(process.pid));
    expect(lock.holder.processStart).toBeGreaterThan(0);
    releaseLock(lock);
  });

  it('a live holder with the recorded start time holds it (exit 75)', () => {
    writeLock(root, { pid: other.pid!, processStart: startTicks(other.pid!) });
    expect(() => acquireLock(root, 'deploy', 'bo')).toThrow(expect.objectContaining({ exitCode: 75 }) as SwitchyardError);
  });

  it('a pid now used by a switchyard-looking process with another start time is a reused pid: taken over, and said so', () => {
    writeLock(root, { pid: other.pid!, processStart: startTicks(other.pid!)! - 1 });
    const lock = acquireLock(root, 'deploy', 'bo');
    expect(lock.takenOver?.why).toBe('reused pid');
    expect(describeTakeover(lock.takenOver!)).toMatch(new RegExp(`^took over a stale lock left by pid ${other.pid} \\(deploy by ana, started .*\\), which is no longer running \\(pid ${other.pid} now belongs to another process: a reused pid\\)$`));
    releaseLock(lock);
  });

  it('a lock from before start times were recorded: a process that started after the lock was taken is not its writer', () => {
    writeLock(root, { pid: other.pid!, startedAt: new Date(Date.now() - 3_600_000).toISOString() });
    const lock = acquireLock(root, 'deploy', 'bo');
    expect(lock.takenOver?.why).toBe('reused pid');
    releaseLock(lock);
    writeLock(root, { pid: other.pid!, startedAt: new Date(Date.now() + 60_000).toISOString() });
    expect(() => acquireLock(root, 'deploy', 'bo')).toThrow(/another deploy is running/);
  });

  it('a dead holder is "no longer running"', () => {
    writeLock(root, { pid: 999_999_999, processStart: 1 });
    const lock = acquireLock(root, 'deploy', 'bo');
    expect(lock.takenOver?.why).toBe('no longer running');
    expect(describeTakeover(lock.takenOver!)).toMatch(/, which is no longer running$/);
    releaseLock(lock);
  });
});

describe('a stale lock through ./deploy.ts', () => {
  let host: TestHost;
  let other: ChildProcess;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    other = await lookalike();
  }, 120_000);
  afterAll(async () => {
    other?.kill('SIGKILL');
    await host?.cleanUp();
  }, 60_000);

  it('whose pid a supervisor-like process reuses no longer blocks deploy or status --repair', async () => {
    writeLock(host.deployRoot, { pid: other.pid!, processStart: startTicks(other.pid!)! + 7 });
    const repaired = await host.run(['status', '--repair']);
    expect(repaired.exitCode, repaired.output).toBe(0);
    expect(repaired.stderr).toMatch(new RegExp(`warning: took over a stale lock left by pid ${other.pid} .*a reused pid`));
    writeLock(host.deployRoot, { pid: other.pid!, processStart: startTicks(other.pid!)! + 7 });
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect(deployed.stderr).toMatch(/warning: took over a stale lock .*a reused pid\)/);
    expect(existsSync(lockPath(host.deployRoot))).toBe(false);
  }, 120_000);
});

/** A full disk while the lock is taken: one clear line, and no temp file left behind. */
const canMount = (() => {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = mkdtempSync(path.join(os.tmpdir(), 'switchyard-mount-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe]);
    return true;
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();
if (canMount !== true) console.warn(`SKIPPED the full-disk lock test: it needs root and a tmpfs mount (${canMount})`);

describe.skipIf(canMount !== true)('a full disk (a real, filled tmpfs)', () => {
  let host: TestHost;
  let mount: string;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    mount = path.join(host.dir, 'full');
    mkdirSync(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', mount]);
    mkdirSync(path.join(mount, 'root'), { mode: 0o700 });
    try {
      execFileSync('sh', ['-c', `head -c 1000000 /dev/zero > ${path.join(mount, 'filler')}`], { stdio: 'pipe' });
    } catch {
      // Stops at ENOSPC: the point.
    }
  }, 120_000);
  afterAll(async () => {
    if (mount) execFileSync('umount', [mount]);
    await host?.cleanUp();
  }, 60_000);

  it('taking the lock says the disk is full, what is untouched and what to do, and leaves no temp file', async () => {
    const root = path.join(mount, 'root');
    expect(() => acquireLock(root, 'deploy', 'ana')).toThrow(expect.objectContaining({ message: `could not take the deploy lock ${root}/deploy.lock: the disk is full (ENOSPC)` }) as SwitchyardError);
    expect(readdirSync(root)).toEqual([]);
    // status --repair takes the lock before anything else.
    const result = await host.run(['status', '--repair'], { DEPLOY_ROOT: root });
    expect(result.exitCode, result.output).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors).toEqual([`error: could not take the deploy lock ${root}/deploy.lock: the disk is full (ENOSPC); nothing was changed (no lock or temp file was left); free space where DEPLOY_ROOT is (df -h ${root}), then run this again`]);
    expect(readdirSync(root).filter((name) => name.startsWith('deploy.lock') || name.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});
