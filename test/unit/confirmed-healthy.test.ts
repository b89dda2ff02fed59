import { describe, expect, it } from 'vitest';
import { confirmedHealthy, type Probe } from '../../lib/slot/health.ts';

/** Recovery and status call a running slot unhealthy only after two failed probes in a row. */
describe('confirmedHealthy', () => {
  const probes = (...answers: boolean[]) => {
    let calls = 0;
    const probe = async (): Promise<Probe> => ({ ok: answers[calls++] ?? false, error: 'no answer within 2000ms' });
    return { probe, calls: () => calls };
  };

  it('one answer is enough', async () => {
    const slot = probes(true);
    expect(await confirmedHealthy(slot.probe, 0)).toBe(true);
    expect(slot.calls()).toBe(1);
  });

  it('one failed probe followed by an answer is healthy', async () => {
    const slot = probes(false, true);
    expect(await confirmedHealthy(slot.probe, 0)).toBe(true);
    expect(slot.calls()).toBe(2);
  });

  it('two failed probes in a row are unhealthy', async () => {
    const slot = probes(false, false, true);
    expect(await confirmedHealthy(slot.probe, 0)).toBe(false);
    expect(slot.calls()).toBe(2);
  });
});
