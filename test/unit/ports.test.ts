import { describe, expect, it } from 'vitest';
import { freePorts, portSlice, testPortRange, wholeTestPortRange } from '../../harness/ports.ts';

// Test ports: each vitest worker hands out ports from its own slice of the range, so two files running
// side by side never choose the same port before either binds it.
describe('test ports', () => {
  it('the workers\' slices do not overlap and stay in the range; outside vitest the whole range', () => {
    const slices = [1, 2, 3, 4].map((pool) => portSlice([20_000, 32_767], pool));
    expect(slices).toEqual([[20_000, 23_191], [23_192, 26_383], [26_384, 29_575], [29_576, 32_767]]);
    expect(portSlice([20_000, 32_767], Number.NaN)).toEqual([20_000, 32_767]);
  });

  it('hands out distinct ports inside this worker\'s slice (VITEST_POOL_ID)', async () => {
    const pool = Number(process.env.VITEST_POOL_ID);
    expect(Number.isInteger(pool) && pool >= 1, `VITEST_POOL_ID=${process.env.VITEST_POOL_ID}`).toBe(true);
    const [first, last] = testPortRange();
    expect([first, last]).toEqual(portSlice(wholeTestPortRange, pool));
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    expect(ports.every((port) => port >= first && port <= last)).toBe(true);
  });
});
