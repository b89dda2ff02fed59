import type { SlotName } from '../config/config.ts';

/** Per-slot figures of one window: what nginx saw each slot answer. Pure. */

export type SlotFigures = { requests: number; errors: number; p50Ms: number | null; p99Ms: number | null };

export const NO_FIGURES: SlotFigures = { requests: 0, errors: 0, p50Ms: null, p99Ms: null };

/** The nearest-rank percentile of sorted values; null for none. */
export function percentile(sorted: readonly number[], share: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))];
}

/** What one slot's requests of a window add up to. */
export type Tally = { requests: number; errors: number; latenciesMs: number[] };

export function emptyTally(): Tally {
  return { requests: 0, errors: 0, latenciesMs: [] };
}

/** Count one answer: a 5xx (nginx's own 502/504 included: the slot did not answer well) is an error. */
export function tallied(tally: Tally, status: number, upstreamMs: number | null): void {
  tally.requests++;
  if (status >= 500) tally.errors++;
  if (upstreamMs !== null) tally.latenciesMs.push(upstreamMs);
}

export function figuresOf(tally: Tally): SlotFigures {
  const sorted = [...tally.latenciesMs].sort((a, b) => a - b);
  return { requests: tally.requests, errors: tally.errors, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
}

const count = new Intl.NumberFormat('en-US');
export const formatCount = (value: number): string => count.format(value);
export const formatRate = (errors: number, requests: number): string => `${requests ? ((100 * errors) / requests).toFixed(1) : '0.0'} %`;
const ms = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);

/** `412 of 1,050 requests 5xx (39.2 %), p50 3 ms, p99 12 ms` */
export function describeFigures(figures: SlotFigures): string {
  return `${formatCount(figures.errors)} of ${formatCount(figures.requests)} requests 5xx (${formatRate(figures.errors, figures.requests)}), p50 ${ms(figures.p50Ms)}, p99 ${ms(figures.p99Ms)}`;
}

export type SlotWindow = Record<SlotName, SlotFigures>;
