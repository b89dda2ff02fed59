/** FLEET_BATCH: how many hosts change at a time, `N` or `N%` of the fleet. Pure. */

export type BatchSize = { count: number } | { percent: number };

export function parseBatchSize(text: string): BatchSize | undefined {
  const match = /^\s*(\d{1,4})\s*(%?)\s*$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  if (match[2]) return value >= 1 && value <= 100 ? { percent: value } : undefined;
  return value >= 1 ? { count: value } : undefined;
}

/** Hosts per batch for a fleet of `total`: N% rounds up (10% of 3 hosts is 1), never more than the fleet. */
export function batchWidth(size: BatchSize, total: number): number {
  const width = 'count' in size ? size.count : Math.ceil((total * size.percent) / 100);
  return Math.max(1, Math.min(total, width));
}

/** The hosts in order, cut into batches of batchWidth(). */
export function makeBatches<T>(hosts: readonly T[], size: BatchSize): T[][] {
  const width = batchWidth(size, hosts.length);
  const batches: T[][] = [];
  for (let index = 0; index < hosts.length; index += width) batches.push(hosts.slice(index, index + width));
  return batches;
}
