import { describeFigures } from '../judge/index.ts';
import type { State } from '../record/state-shape.ts';
import { shortCommit } from '../record/state-shape.ts';
import { canaryLogFile, isCanaryWatcher } from './watcher.ts';

/** What status shows of a canary: its share and step, the last window's figures of both slots, the verdict so far. */

export type CanaryReport = NonNullable<State['canary']> & { watcherRunning: boolean; log: string; verdict: string };

/** The verdict so far, in words: how many windows passed, failed or could not be judged. */
export function verdictSoFar(canary: NonNullable<State['canary']>): string {
  const count = (outcome: string) => canary.windows.filter((window) => window.outcome === outcome).length;
  if (canary.windows.length === 0) return 'no window judged yet';
  const last = canary.windows.at(-1)!;
  const tally = `${count('pass')} passed, ${count('fail')} failed, ${count('inconclusive')} inconclusive`;
  return `${tally}; last window ${last.outcome}${last.reasons.length ? ` (${last.reasons.join('; ')})` : ''}`;
}

export function canaryReport(state: State, deployRoot: string): CanaryReport | null {
  const canary = state.canary;
  if (!canary) return null;
  return { ...canary, watcherRunning: isCanaryWatcher(canary.watcherPid), log: canaryLogFile(deployRoot), verdict: verdictSoFar(canary) };
}

export function describeCanary(report: CanaryReport): string[] {
  const last = report.windows.at(-1);
  const watcher = report.watcherRunning
    ? `watcher pid ${report.watcherPid} (log ${report.log})`
    : 'its watcher is not running: the next deploy, rollback or status --repair ends it (every user back on the live slot)';
  return [
    `canary: ${shortCommit(report.commit)} on slot ${report.slot} for ${report.share}% of users (step ${report.step + 1} of ${report.steps.length}: ${report.steps.map((share) => `${share}%`).join(' → ')}), since ${report.startedAt}; ${watcher}`,
    ...(last ? [`  last window (${last.at}, ${last.share}%): slot ${report.slot} ${describeFigures(last.candidate)}; slot ${report.live} ${describeFigures(last.baseline)}`] : []),
    `  verdict so far: ${report.verdict}; ./deploy.ts promote or rollback ends it now`,
  ];
}
