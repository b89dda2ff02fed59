import type { Reporter } from '../cli/reporter.ts';
import type { Config } from '../config/config.ts';
import { acquireLockWaiting, type Lock, type LockHolder } from '../record/lock.ts';
import type { CycleCommand } from '../record/state-shape.ts';

/**
 * The deploy lock. The bake window's watcher holds it only while it stops an old slot (a drain of a
 * few seconds, at most STOP_TIMEOUT twice), the canary's while it acts on a window: a command waits
 * for that instead of failing with 75.
 */
export function lockAfterWatcher(
  config: Config,
  command: CycleCommand | 'promote',
  user: string,
  fleetId: string | undefined,
  reporter: Reporter,
  onWait?: () => void,
): Promise<Lock> {
  let told = false;
  const whileWatcherHolds = (holder: LockHolder | undefined) => {
    if (holder?.command !== 'bake-watch' && holder?.command !== 'canary-watch') return false;
    onWait?.();
    if (!told) reporter.info(holder.command === 'bake-watch' ? `  the bake window's watcher (pid ${holder.pid}) is stopping the old slot; waiting for it` : `  the canary's watcher (pid ${holder.pid}) is acting on a window; waiting for it`);
    told = true;
    return true;
  };
  return acquireLockWaiting(config.deployRoot, command, user, whileWatcherHolds, {
    timeoutMs: 2 * config.stopTimeoutMs + 10_000,
    everyMs: 200,
    fleetId,
  });
}
