import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { batchesBefore, endedChildrenCpuSeconds, median, medianText } from '../../bench/fleet-support.ts';

describe('bench:fleet figures', () => {
  it('counts the batches switched before the last host, alone in the last batch, fails', () => {
    expect(batchesBefore(3, '1')).toBe(2);
    expect(batchesBefore(10, '3')).toBe(3);
    expect(batchesBefore(10, '25%')).toBe(3);
    expect(batchesBefore(1, '1')).toBe(0);
  });

  it('takes the median of odd and even rounds and prints the range beside it', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(medianText([1.5, 0.5, 1])).toBe('1.00 (0.50-1.50)');
    expect(medianText([0.25])).toBe('0.25');
    expect(medianText([])).toBe('not seen');
  });

  it('counts the CPU of a child once it has ended', () => {
    const before = endedChildrenCpuSeconds();
    const child = spawnSync(process.execPath, ['-e', 'const end = process.cpuUsage().user + 300_000; while (process.cpuUsage().user < end);']);
    expect(child.status).toBe(0);
    expect(endedChildrenCpuSeconds() - before).toBeGreaterThanOrEqual(0.2);
  });
});
