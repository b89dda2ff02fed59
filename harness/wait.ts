import { readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The tests' one way to wait: until `check` returns something truthy (which is returned), looking
 * every `everyMs`; past `timeoutMs` it fails naming what was awaited, with `output()` (a log, the
 * command's output so far) so the failure says why. A bound on waiting, never an assertion on time.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: { timeoutMs?: number; everyMs?: number; output?: () => string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${options.output ? `; output so far:\n${options.output()}` : ''}`);
    await sleep(options.everyMs ?? 50);
  }
}

/** Whether process `pid` has `file` open (a link in /proc/PID/fd): the event of a reader, such as `logs -f`, having opened it. */
export function hasOpen(pid: number | undefined, file: string): boolean {
  try {
    const target = realpathSync(file);
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
      } catch {
        return false; // closed between the listing and the look
      }
    });
  } catch {
    return false; // no such process or file (yet, or any more)
  }
}

/**
 * Until `count` requests of a running load begun at `since` (a Date.now()) or later have ended: the
 * load flows before a command (since 0), or has gone on after the command returned (since then).
 */
export async function loadAnswered(load: { records: { startedAt: number }[] }, since = 0, count = 30): Promise<void> {
  const ended = () => load.records.filter((record) => record.startedAt >= since).length;
  await waitFor(`${count} requests of the load${since ? ` begun since ${new Date(since).toISOString()}` : ''} to end`, () => ended() >= count, {
    timeoutMs: 30_000,
    output: () => `${ended()} ended, of ${load.records.length} in all`,
  });
}
