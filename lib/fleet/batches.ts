/** The rollout's shape: FLEET_BATCH (`N` or `N%` of the fleet), the canary first batch, the failures allowed. Pure. */

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

/**
 * FLEET_CANARY_HOSTS: the first batch has `canary` hosts (0: no canary batch), the rest batches of
 * FLEET_BATCH, whose N% stays a share of the whole fleet.
 */
export function planBatches<T>(hosts: readonly T[], size: BatchSize, canary: number): T[][] {
  if (canary <= 0) return makeBatches(hosts, size);
  const width = batchWidth(size, hosts.length);
  const batches = [hosts.slice(0, canary)];
  for (let index = canary; index < hosts.length; index += width) batches.push(hosts.slice(index, index + width));
  return batches;
}

/** FLEET_MAX_FAIL, `N` or `N%` of the fleet's hosts (0 to 100); undefined when it is not one. */
export function parseFailPercent(text: string): number | undefined {
  const match = /^\s*(\d{1,3})\s*%?\s*$/.exec(text);
  return match && Number(match[1]) <= 100 ? Number(match[1]) : undefined;
}

/** How many hosts may fail and the rollout go on, as Ansible's max_fail_percentage: more than `percent`% of the fleet stops it. */
export function failureBudget(total: number, percent: number): number {
  return Math.floor((total * percent) / 100);
}
