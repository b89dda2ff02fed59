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
