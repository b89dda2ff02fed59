import { accessSync, constants, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { SwitchyardError } from './errors.ts';
import { ensurePrivateDir } from './files.ts';
import { paths } from './paths.ts';
import { isAlive } from './process.ts';

export type LockHolder = { pid: number; user: string; command: string; startedAt: string; host: string };
export type Lock = { file: string; holder: LockHolder; takenOver?: LockHolder };

export function lockPath(deployRoot: string): string {
  return paths.lock(deployRoot);
}

/**
 * Take the deploy lock or fail at once naming the holder. A lock whose holder is dead is taken over
 * (the caller warns). link() makes creation atomic: two deploys can never both succeed.
 */
export function acquireLock(deployRoot: string, command: string, user: string): Lock {
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
  const file = lockPath(deployRoot);
  const holder: LockHolder = { pid: process.pid, user, command, startedAt: new Date().toISOString(), host: os.hostname() };
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(holder), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, file);
        return { file, holder };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = readHolder(file);
      if (existing && isAlive(existing.pid) && !pidWasReused(existing.pid)) {
        throw new SwitchyardError(
          `another ${existing.command} is running (pid ${existing.pid}, user ${existing.user}, started ${existing.startedAt})`,
          { untouched: 'nothing was changed', next: 'wait for it to finish, then run this again', exitCode: 75 },
        );
      }
      // Dead holder (or an unreadable lock): move it aside atomically, so only one taker wins.
      const stale = `${file}.stale.${process.pid}`;
      try {
        renameSync(file, stale);
      } catch {
        continue;
      }
      // Another deploy may have taken over between our read and our rename: then we moved its live
      // lock aside, and it must go back.
      const moved = readHolder(stale);
      if (existing && (moved?.pid !== existing.pid || moved?.startedAt !== existing.startedAt)) {
        try {
          linkSync(stale, file);
        } catch {
          // It took the lock again meanwhile; either way the lock is held by someone else.
        }
        rmSync(stale, { force: true });
        continue;
      }
      rmSync(stale, { force: true });
      try {
        linkSync(temp, file);
        return { file, holder, takenOver: existing ?? { pid: 0, user: '?', command: '?', startedAt: '?', host: '?' } };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    throw new SwitchyardError(`could not take the deploy lock ${file}`, { untouched: 'nothing was changed', next: 'run the command again' });
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Release only a lock this process holds. */
export function releaseLock(lock: Lock): void {
  const existing = readHolder(lock.file);
  if (existing && existing.pid === lock.holder.pid && existing.startedAt === lock.holder.startedAt) rmSync(lock.file, { force: true });
}

/** A lock outlives a crash and its pid can be reused: a live pid that is not a Switchyard command does not hold it. */
function pidWasReused(pid: number): boolean {
  try {
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return !/deploy\.ts|switchyard/.test(commandLine);
  } catch {
    return false;
  }
}

export function readHolder(file: string): LockHolder | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return typeof data.pid === 'number' ? data : undefined;
  } catch {
    return undefined;
  }
}

/** Who runs the command: the sudo caller when there is one, for history and lock messages. */
export function currentUser(env: Record<string, string | undefined>): string {
  try {
    return env.SUDO_USER || os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
