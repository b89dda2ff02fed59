import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, SlotName } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import type { Reporter } from '../cli/reporter.ts';
import { longLivedCount } from './drain.ts';

/**
 * Retiring a slot that still holds long-lived connections (WebSocket, SSE, long-poll: what the site
 * sends through its stream location, lib/traffic/long-lived.ts). A deploy never waits for them: it
 * returns once the old slot has no request in flight, and the detached watcher (lib/cycle/bake.ts)
 * gives them LONG_LIVED_TIMEOUT to close on their own, without the deploy lock, before the usual
 * drain and SIGTERM, which closes them (the drain helper sends a close frame; an app with no handler
 * cuts them). Every line goes to the watcher's output: bake.log, the deploy's log and `status`.
 */

export type LongLivedWait = 'none' | 'closed' | 'timeout' | 'taken';

/** Wait until the slot's long-lived connections have closed, LONG_LIVED_TIMEOUT passed, or `stillOurs` says another command took the slot over. */
export async function waitForLongLived(
  config: Config,
  slot: SlotName,
  reporter: Reporter,
  stillOurs: () => boolean,
): Promise<LongLivedWait> {
  const started = Date.now();
  const budget = formatDuration(config.longLivedTimeoutMs);
  let open = longLivedCount(config, slot);
  if (open === 0) return 'none';
  reporter.info(`retire: slot ${slot} holds ${open} long-lived connection(s) (WebSocket, SSE, long-poll); they may stay up to LONG_LIVED_TIMEOUT (${budget}), then SIGTERM closes them`);
  let lastReport = started;
  while (open > 0) {
    if (!stillOurs()) {
      reporter.info(`retire: another command took slot ${slot} over with ${open} long-lived connection(s) open; it stops the slot itself`);
      return 'taken';
    }
    const elapsed = Date.now() - started;
    if (elapsed >= config.longLivedTimeoutMs) {
      reporter.info(`retire: ${open} long-lived connection(s) still open to slot ${slot} after LONG_LIVED_TIMEOUT (${budget}): SIGTERM closes them now (an app with the drain helper sends each WebSocket a close frame and ends its SSE responses; one without a handler cuts them)`);
      return 'timeout';
    }
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      reporter.info(`retire: ${open} long-lived connection(s) still open to slot ${slot} (${formatDuration(elapsed)} of ${budget})`);
    }
    await sleep(100);
    open = longLivedCount(config, slot);
  }
  reporter.info(`retire: the long-lived connections to slot ${slot} closed by themselves in ${formatDuration(Date.now() - started)}`);
  return 'closed';
}

/** The lines the watcher `pid` wrote to `bakeLog` since it started (its first line names its pid), at most the last `max`: for `status`. */
export function watcherLines(bakeLog: string, pid: number, max = 20): string[] {
  let text: string;
  try {
    const fd = openSync(bakeLog, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, 256 * 1024);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  const lines = text.split('\n').filter(Boolean);
  let start = -1;
  lines.forEach((line, index) => {
    if (line.includes(`bake-watch pid ${pid} `)) start = index;
  });
  return start < 0 ? [] : lines.slice(start + 1).slice(-max);
}
