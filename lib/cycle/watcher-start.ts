import { setTimeout as sleep } from 'node:timers/promises';

/** Long past any spawner's next write; a spawner killed in between leaves a window the next command ends. */
const RECORD_WAIT_MS = 10_000;
const LOOK_EVERY_MS = 50;

/**
 * A watcher is spawned before its pid is in the state: the command that spawns it records the pid it
 * got back. On a busy host the watcher can read the state first, see a window that names no watcher
 * and take it for another's, leaving the warm slot (or the canary) to nobody. So it waits while the
 * window names no watcher yet: `watcherPid` reads the record (null: not recorded yet; undefined: no
 * window at all). `onWait` is told once, so the log says why a start took a moment.
 */
export async function untilRecorded(
  watcherPid: () => number | null | undefined,
  options: { signal?: AbortSignal; onWait?: () => void } = {},
): Promise<void> {
  const deadline = Date.now() + RECORD_WAIT_MS;
  let told = false;
  while (watcherPid() === null && Date.now() < deadline && !options.signal?.aborted) {
    if (!told) options.onWait?.();
    told = true;
    await sleep(LOOK_EVERY_MS, undefined, { signal: options.signal }).catch(() => undefined);
  }
}
