import { describe, expect, it } from 'vitest';
import { untilRecorded } from '../../lib/cycle/watcher-start.ts';

/** A watcher started before its pid is recorded waits for the record (lib/cycle/watcher-start.ts). */
describe('untilRecorded', () => {
  it('returns at once when the window names a watcher, or when there is no window', async () => {
    const said: string[] = [];
    await untilRecorded('window', () => 123, { say: (line) => said.push(line) });
    await untilRecorded('window', () => undefined, { say: (line) => said.push(line) });
    expect(said).toEqual([]);
  });

  it('waits while the window names no watcher, says so once, and goes on once a pid is recorded', async () => {
    let recorded: number | null = null;
    let looks = 0;
    const said: string[] = [];
    await untilRecorded(
      'window',
      () => {
        looks++;
        if (looks === 4) recorded = 456;
        return recorded;
      },
      { say: (line) => said.push(line) },
    );
    expect(recorded).toBe(456);
    expect(looks).toBe(4);
    expect(said).toEqual([`the window names no watcher yet: waiting for the command that started pid ${process.pid} to record it`]);
  });

  it('stops waiting when its signal aborts', async () => {
    const controller = new AbortController();
    const waiting = untilRecorded('canary', () => null, { signal: controller.signal, say: () => controller.abort('SIGTERM') });
    await expect(waiting).resolves.toBeUndefined();
  });
});
