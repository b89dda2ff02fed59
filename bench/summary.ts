import type { RequestRecord } from '../harness/load.ts';
import type { StrategyRun, SwitchWindow } from './types.ts';

/** Nearest-rank percentile of an ascending array; null when empty. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: number[]): number | null {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** The load's first second (connections opening, JIT warm-up) counts as neither steady state nor a switch. */
export const WARMUP_MS = 1000;

export type Spread = { n: number; p50: number | null; p99: number | null };
export type MedianMax = { n: number; median: number | null; max: number | null };

export type CommandSummary = MedianMax & { phases: Record<string, number | null> };

export type Summary = {
  name: string;
  cycles: number;
  failedCycles: number;
  requests: number;
  failed: number;
  failuresByType: { key: string; count: number }[];
  /** Seconds of the run in which requests failed: 100 ms slices in which at least one failed request ended. */
  failingSeconds: number;
  fastSteady: Spread;
  fastSwitch: Spread;
  window: MedianMax;
  /** By command (deploy, rollback, restart, ...): wall time and per-phase medians. */
  commands: Record<string, CommandSummary>;
  /** The previous version: last answer and process exit, in ms after its SIGTERM (or the window start). */
  oldAnswered: MedianMax;
  oldExit: MedianMax;
};

function spread(latencies: number[]): Spread {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function medianMax(values: number[]): MedianMax {
  return { n: values.length, median: median(values), max: values.length ? Math.max(...values) : null };
}

/** A request belongs to a switch window when its lifetime overlaps the window at all. */
export function inAnyWindow(record: RequestRecord, windows: SwitchWindow[]): boolean {
  const end = record.startedAt + record.latencyMs;
  return windows.some((window) => record.startedAt <= window.end && end >= window.start);
}

export function failureKey(record: RequestRecord): string {
  return `${record.method} ${record.error}${record.reused ? ' (reused)' : ''}`;
}

export function failuresByType(records: RequestRecord[]): { key: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const record of records) if (record.error !== null) counts.set(failureKey(record), (counts.get(failureKey(record)) ?? 0) + 1);
  return [...counts].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count);
}

export function failingSeconds(records: RequestRecord[]): number {
  const slices = new Set<number>();
  for (const record of records) if (record.error !== null) slices.add(Math.floor((record.startedAt + record.latencyMs) / 100));
  return slices.size / 10;
}

/** When the window's old version last finished an answer, in ms after its SIGTERM (or the window start). */
export function lastOldAnswer(records: RequestRecord[], window: SwitchWindow): number | null {
  if (!window.fromVersion || window.fromVersion === window.toVersion) return null;
  let last: number | null = null;
  for (const record of records) {
    if (record.version !== window.fromVersion || record.startedAt < window.start) continue;
    const end = record.startedAt + record.latencyMs;
    if (last === null || end > last) last = end;
  }
  return last === null ? null : last - (window.sigtermAt ?? window.start);
}

export function summarize(run: StrategyRun): Summary {
  const { records, windows } = run;
  const steady: number[] = [];
  const during: number[] = [];
  for (const record of records) {
    if (record.kind !== 'fast' || record.error !== null) continue;
    if (inAnyWindow(record, windows)) during.push(record.latencyMs);
    else if (record.startedAt >= run.loadStart + WARMUP_MS) steady.push(record.latencyMs);
  }
  const commands: Record<string, CommandSummary> = {};
  for (const command of new Set(windows.map((window) => window.command))) {
    const mine = windows.filter((window) => window.command === command && window.ok);
    const phaseNames = [...new Set(mine.flatMap((window) => Object.keys(window.phases ?? {})))];
    commands[command] = {
      ...medianMax(mine.map((window) => window.end - window.start)),
      phases: Object.fromEntries(
        phaseNames.map((name) => [
          name,
          median(mine.flatMap((window) => (window.phases?.[name] === undefined ? [] : [window.phases[name]]))),
        ]),
      ),
    };
  }
  const oldAnswered = windows.map((window) => lastOldAnswer(records, window)).filter((value): value is number => value !== null);
  const oldExit = windows.flatMap((window) =>
    window.sigtermAt !== undefined && window.exitAt !== undefined ? [window.exitAt - window.sigtermAt] : [],
  );
  return {
    name: run.name,
    cycles: windows.length,
    failedCycles: windows.filter((window) => !window.ok).length,
    requests: records.length,
    failed: records.filter((record) => record.error !== null).length,
    failuresByType: failuresByType(records),
    failingSeconds: failingSeconds(records),
    fastSteady: spread(steady),
    fastSwitch: spread(during),
    window: medianMax(windows.map((window) => window.end - window.start)),
    commands,
    oldAnswered: medianMax(oldAnswered),
    oldExit: medianMax(oldExit),
  };
}
