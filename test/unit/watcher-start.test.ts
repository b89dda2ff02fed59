import { describe, expect, it } from 'vitest';
import { untilRecorded } from '../../lib/cycle/watcher-start.ts';

/** A watcher started before its pid is recorded waits for the record (lib/cycle/watcher-start.ts). */
describe('untilRecorded', () => {
  it('returns at once when the window names a watcher, or when there is no window', async () => {
    let told = 0;
    await untilRecorded(() => 123, { onWait: () => told++ });
    await untilRecorded(() => undefined, { onWait: () => told++ });
    expect(told).toBe(0);
  });

  it('waits while the window names no watcher, says so once, and goes on once a pid is recorded', async () => {
    let recorded: number | null = null;
    let looks = 0;
    let told = 0;
    await untilRecorded(
      () => {
        looks++;
        if (looks === 4) recorded = 456;
        return recorded;
      },
      { onWait: () => told++ },
    );
    expect(recorded).toBe(456);
    expect(looks).toBe(4);
    expect(told).toBe(1);
  });

  it('stops waiting when its signal aborts', async () => {
    const controller = new AbortController();
    const waiting = untilRecorded(() => null, { signal: controller.signal, onWait: () => controller.abort('SIGTERM') });
    await expect(waiting).resolves.toBeUndefined();
  });
});
