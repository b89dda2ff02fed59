import type { Config } from '../config/config.ts';
import { formatCount, formatRate, type SlotFigures } from './figures.ts';

/**
 * The judgement of one window: the new slot (candidate) against the old one (baseline). A window
 * fails on errors when the candidate's 5xx share is above max(CANARY_MAX_ERROR_RATE, 2 × the
 * baseline's) with at least CANARY_MIN_ERRORS errors, or on latency when its p99 is above
 * max(CANARY_P99_FACTOR × the baseline's, the baseline's + CANARY_P99_SLACK). Too few requests is
 * inconclusive, never a pass. Pure.
 */

export type Thresholds = { maxErrorRate: number; minRequests: number; minErrors: number; p99Factor: number; p99SlackMs: number };
export type Outcome = 'pass' | 'fail' | 'inconclusive';
export type WindowVerdict = { outcome: Outcome; candidate: SlotFigures; baseline: SlotFigures; reasons: string[] };
/** How the reasons name the two sides: `slot b`, `slot a before the switch`. */
export type Labels = { candidate: string; baseline: string };

/** Below this many latencies a p99 is the slowest request: one outlier, so latency is not judged. */
export const P99_MIN_REQUESTS = 100;

export function thresholdsFrom(config: Pick<Config, 'judge'>): Thresholds {
  const { maxErrorRate, minRequests, minErrors, p99Factor, p99SlackMs } = config.judge;
  return { maxErrorRate, minRequests, minErrors, p99Factor, p99SlackMs };
}

const UNNAMED: Labels = { candidate: 'the new slot', baseline: 'the old slot' };

export function judgeWindow(candidate: SlotFigures, baseline: SlotFigures, t: Thresholds, labels: Labels = UNNAMED): WindowVerdict {
  const verdict = (outcome: Outcome, reasons: string[]): WindowVerdict => ({ outcome, candidate, baseline, reasons });
  if (candidate.requests < t.minRequests) {
    return verdict('inconclusive', [`${labels.candidate} answered ${formatCount(candidate.requests)} requests, fewer than the ${formatCount(t.minRequests)} needed to judge (CANARY_MIN_REQUESTS)`]);
  }
  const reasons = [errorReason(candidate, baseline, t, labels), latencyReason(candidate, baseline, t, labels)].filter(
    (reason): reason is string => reason !== undefined,
  );
  return verdict(reasons.length > 0 ? 'fail' : 'pass', reasons);
}

function errorReason(candidate: SlotFigures, baseline: SlotFigures, t: Thresholds, labels: Labels): string | undefined {
  // A baseline too small to have a rate of its own cannot raise the limit: a 1-of-3 blip is not "33 % is normal".
  const baselineCounts = baseline.requests >= t.minRequests;
  const baselineRate = baselineCounts ? baseline.errors / baseline.requests : 0;
  const limit = Math.max(t.maxErrorRate, 2 * baselineRate);
  const rate = candidate.errors / candidate.requests;
  if (rate <= limit || candidate.errors < t.minErrors) return undefined;
  const against = baselineCounts
    ? `${labels.baseline}'s ${formatCount(baseline.errors)} of ${formatCount(baseline.requests)} (${formatRate(baseline.errors, baseline.requests)})`
    : `${labels.baseline} with too few requests to compare (${formatCount(baseline.requests)}), so CANARY_MAX_ERROR_RATE alone`;
  return `${labels.candidate}: ${formatCount(candidate.errors)} of ${formatCount(candidate.requests)} requests 5xx (${formatRate(candidate.errors, candidate.requests)}) against ${against}; the limit is ${(100 * limit).toFixed(1)} %`;
}

function latencyReason(candidate: SlotFigures, baseline: SlotFigures, t: Thresholds, labels: Labels): string | undefined {
  if (candidate.p99Ms === null || baseline.p99Ms === null) return undefined;
  if (candidate.requests < P99_MIN_REQUESTS || baseline.requests < P99_MIN_REQUESTS) return undefined;
  const limit = Math.max(t.p99Factor * baseline.p99Ms, baseline.p99Ms + t.p99SlackMs);
  if (candidate.p99Ms <= limit) return undefined;
  return `${labels.candidate}: p99 ${Math.round(candidate.p99Ms)} ms against ${labels.baseline}'s ${Math.round(baseline.p99Ms)} ms; the limit is ${Math.round(limit)} ms`;
}
