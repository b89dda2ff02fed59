import { setTimeout as sleep } from 'node:timers/promises';

/** Long past any spawner's next write; a spawner killed in between leaves a window the next command ends. */
const RECORD_WAIT_MS = 10_000;
const LOOK_EVERY_MS = 50;

/**
 * A watcher is spawned before its pid is in the state: the command that spawns it records the pid it
 * got back. On a busy host the watcher can read the state first, see a window that names no watcher
 * and take it for another's, leaving the warm slot (or the canary) to nobody. So it waits while
 * `what` (the window, the canary) names no watcher yet: `watcherPid` reads the record (null: not
 * recorded yet; undefined: no window at all). `say` gets one line for the log when it has to wait.
 */
export async function untilRecorded(
  what: string,
  watcherPid: () => number | null | undefined,
  options: { say: (line: string) => void; signal?: AbortSignal },
): Promise<void> {
  if (watcherPid() !== null) return;
  options.say(`the ${what} names no watcher yet: waiting for the command that started pid ${process.pid} to record it`);
  const deadline = Date.now() + RECORD_WAIT_MS;
  while (Date.now() < deadline && !options.signal?.aborted) {
    await sleep(LOOK_EVERY_MS, undefined, { signal: options.signal }).catch(() => undefined);
    if (watcherPid() !== null) return;
  }
}
