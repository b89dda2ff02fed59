import { accessSync, constants, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { removeStaleLock } from '../host/file-lock.ts';
import os from 'node:os';
import { deployerName } from '../host/deployer.ts';
import { SwitchyardError } from '../errors.ts';
import { ensurePrivateDir } from '../host/files.ts';
import { paths } from '../host/paths.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../host/process.ts';
import { startTicks, startedAtMs } from '../host/proc.ts';
import { fleetLeaseRefusal } from './fleet-lease.ts';

export type LockHolder = {
  pid: number;
  user: string;
  command: string;
  startedAt: string;
  host: string;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22): a reused pid has another one. */
  processStart?: number;
};
/** A lock taken over from a holder that is gone, and why it counted as gone. */
export type StaleHolder = LockHolder & { why: 'no longer running' | 'reused pid' | 'unreadable lock' };
export type Lock = { file: string; holder: LockHolder; takenOver?: StaleHolder };

export function lockPath(deployRoot: string): string {
  return paths.lock(deployRoot);
}

/**
 * Take the deploy lock or fail at once naming the holder. A lock whose holder is gone (dead, or its
 * pid reused by another process) is taken over (the caller warns with describeTakeover()). link()
 * makes creation atomic: two deploys can never both succeed. `fleetId`: the caller's SWITCHYARD_FLEET_ID,
 * the fleet rollout it runs for (a host held by another fleet rollout refuses deploy/rollback/restart).
 */
export function acquireLock(deployRoot: string, command: string, user: string, fleetId?: string): Lock {
  try {
    ensurePrivateDir(deployRoot);
    accessSync(deployRoot, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new SwitchyardError(`DEPLOY_ROOT ${deployRoot} is not a writable folder (${code})`, {
      untouched: 'nothing was changed',
      next: 'create it and give the deploy user write access, or fix DEPLOY_ROOT',
    });
  }
  // A fleet rollout holds this host: only its own commands (SWITCHYARD_FLEET_ID) deploy here meanwhile.
  const refusal = fleetLeaseRefusal(deployRoot, command, fleetId);
  if (refusal) throw refusal;
  const file = lockPath(deployRoot);
  const holder: LockHolder = {
    pid: process.pid,
    user,
    command,
    startedAt: new Date().toISOString(),
    host: os.hostname(),
    processStart: startTicks(process.pid),
  };
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(holder), { mode: 0o600 });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, file);
        return { file, holder };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = readHolder(file);
      const liveness = existing ? holderLiveness(existing) : 'unreadable lock';
      if (liveness === 'running') {
        throw new SwitchyardError(
          `another ${existing!.command} is running (pid ${existing!.pid}, user ${existing!.user}, started ${existing!.startedAt})`,
          { untouched: 'nothing was changed', next: 'wait for it to finish, then run this again', exitCode: 75 },
        );
      }
      // Gone holder (or an unreadable lock): moved aside, unless another deploy took over between our read and the move.
      const removed = removeStaleLock(file, (aside) => {
        const moved = readHolder(aside);
        return !existing || (moved?.pid === existing.pid && moved?.startedAt === existing.startedAt);
      });
      if (removed !== 'removed') continue;
      try {
        linkSync(temp, file);
        return { file, holder, takenOver: { ...(existing ?? { pid: 0, user: '?', command: '?', startedAt: '?', host: '?' }), why: liveness } };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new SwitchyardError(`could not take the deploy lock ${file}`, { untouched: 'nothing was changed', next: 'run the command again' });
  } catch (error) {
    if (error instanceof SwitchyardError) throw error;
    throw lockWriteError(file, deployRoot, error as NodeJS.ErrnoException);
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The warning line for a taken-over lock. */
export function describeTakeover(stale: StaleHolder): string {
  const why = {
    'no longer running': 'which is no longer running',
    'reused pid': `which is no longer running (pid ${stale.pid} now belongs to another process: a reused pid)`,
    'unreadable lock': 'which could not be read',
  }[stale.why];
  return `took over a stale lock left by pid ${stale.pid} (${stale.command} by ${stale.user}, started ${stale.startedAt}), ${why}`;
}

/** The deploy or rollback holding the lock now, if one really runs (for commands that must not disturb it). */
export function runningHolder(deployRoot: string): LockHolder | undefined {
  const holder = readHolder(lockPath(deployRoot));
  return holder && holderLiveness(holder) === 'running' ? holder : undefined;
}

/** Release only a lock this process holds. */
export function releaseLock(lock: Lock): void {
  const existing = readHolder(lock.file);
  if (existing && existing.pid === lock.holder.pid && existing.startedAt === lock.holder.startedAt) rmSync(lock.file, { force: true });
}

/**
 * Whether the process that wrote a lock still runs. Its pid alone says nothing once the pid is
 * reused (by any process, even another Switchyard command): its start time must match too.
 */
export function holderLiveness(holder: LockHolder): 'running' | 'no longer running' | 'reused pid' {
  if (!isAlive(holder.pid)) return 'no longer running';
  const start = startTicks(holder.pid);
  if (start === undefined) return 'running';
  if (holder.processStart !== undefined) return start === holder.processStart ? 'running' : 'reused pid';
  // A lock written before start times were recorded: a process that started after the lock was taken is not its writer.
  const startedAt = startedAtMs(start);
  const lockedAt = Date.parse(holder.startedAt);
  return startedAt !== undefined && Number.isFinite(lockedAt) && startedAt > lockedAt + 2000 ? 'reused pid' : 'running';
}

function lockWriteError(file: string, deployRoot: string, error: NodeJS.ErrnoException): SwitchyardError {
  const code = error.code ?? 'unknown error';
  const what = { ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is used up', EROFS: 'the file system is read-only', EACCES: 'permission denied' }[code] ?? error.message;
  const next = code === 'ENOSPC' || code === 'EDQUOT' ? `free space where DEPLOY_ROOT is (df -h ${deployRoot}), then run this again` : 'fix the cause, then run this again';
  return new SwitchyardError(`could not take the deploy lock ${file}: ${what} (${code})`, { untouched: 'nothing was changed (no lock or temp file was left)', next, cause: error });
}

export function readHolder(file: string): LockHolder | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return typeof data.pid === 'number' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Who runs the command, for history and lock messages: see deployerName() (SWITCHYARD_USER, SUDO_USER, the SSH key's comment, the login). */
export function currentUser(env: Record<string, string | undefined>): string {
  return deployerName(env);
}

/**
 * Take the lock, waiting while its holder is one `keepWaiting` accepts (checked at each try) and the
 * time lasts; otherwise fail as acquireLock does. `keepWaiting` returning false ends the wait.
 */
export async function acquireLockWaiting(
  deployRoot: string,
  command: string,
  user: string,
  keepWaiting: (holder: LockHolder | undefined) => boolean,
  options: { timeoutMs: number; everyMs: number; fleetId?: string },
): Promise<Lock> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      return acquireLock(deployRoot, command, user, options.fleetId);
    } catch (error) {
      if (
        !(error instanceof SwitchyardError) ||
        error.exitCode !== 75 ||
        Date.now() > deadline ||
        !keepWaiting(readHolder(lockPath(deployRoot)))
      ) {
        throw error;
      }
      await sleep(options.everyMs);
    }
  }
}
