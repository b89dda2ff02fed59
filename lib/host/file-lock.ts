import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive } from './process.ts';
import { startTicks } from './proc.ts';

/**
 * A lock on one file for a read-merge-write of it: `<file>.lock`, made by an exclusive link() so two
 * writers can never both hold it. A lock whose writer is gone (dead, or its pid reused) is taken
 * over. Local to the file: it does not take or wait for the deploy lock.
 */

type Owner = { pid: number; start?: number };

/** Thrown by withFileLock when the file system refuses the lock itself (read-only, full, no access). */
export class FileLockError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
  ) {
    super(`cannot lock ${file} (${code})`);
  }
}

/** Run `fn` holding `<file>.lock`, waiting at most `timeoutMs` for a live holder; the lock is removed in a finally. */
export function withFileLock<T>(file: string, fn: () => T, options: { timeoutMs?: number } = {}): T {
  const lock = `${file}.lock`;
  const me: Owner = { pid: process.pid, start: startTicks(process.pid) };
  const temp = `${lock}.${process.pid}.tmp`;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  try {
    writeFileSync(temp, JSON.stringify(me), { mode: 0o600 });
  } catch (error) {
    throw new FileLockError(lock, (error as NodeJS.ErrnoException).code ?? String(error));
  }
  try {
    for (;;) {
      try {
        linkSync(temp, lock);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new FileLockError(lock, code ?? String(error));
      }
      const holder = readOwner(lock);
      if (holder && isRunning(holder)) {
        if (Date.now() > deadline) throw new FileLockError(lock, `held by pid ${holder.pid}`);
        sleepSync(20);
        continue;
      }
      takeOver(lock, holder);
    }
  } finally {
    rmSync(temp, { force: true });
  }
  try {
    return fn();
  } finally {
    const holder = readOwner(lock);
    if (holder?.pid === me.pid && holder.start === me.start) rmSync(lock, { force: true });
  }
}

/**
 * Remove a lock file judged stale, only if it still is what the caller read: it is moved aside
 * atomically (of two takers, one wins), read again there, and put back when another taker replaced
 * it between the caller's read and the move. `isStillStale` gets the file moved aside. 'removed':
 * the caller may now create the lock; 'replaced' or 'gone': someone else acted first, look again.
 * The deploy lock, the fleet lease and the file locks share this.
 */
export function removeStaleLock(lock: string, isStillStale: (movedAside: string) => boolean): 'removed' | 'replaced' | 'gone' {
  const aside = `${lock}.stale.${process.pid}`;
  try {
    renameSync(lock, aside);
  } catch {
    return 'gone';
  }
  const still = isStillStale(aside);
  if (!still) {
    try {
      linkSync(aside, lock);
    } catch {
      // Taken again meanwhile: held by someone else either way.
    }
  }
  rmSync(aside, { force: true });
  return still ? 'removed' : 'replaced';
}

/** Move a stale lock aside unless a new holder came in between. */
function takeOver(lock: string, stale: Owner | undefined): void {
  removeStaleLock(lock, (aside) => {
    const moved = readOwner(aside);
    return !stale || (moved?.pid === stale.pid && moved?.start === stale.start);
  });
}

function readOwner(file: string): Owner | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return typeof data.pid === 'number' ? data : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(owner: Owner): boolean {
  if (!isAlive(owner.pid)) return false;
  const start = startTicks(owner.pid);
  return owner.start === undefined || start === undefined || start === owner.start;
}


function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
