import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { isSwitchyardError } from '../errors.ts';
import { writeFileAtomic } from '../host/files.ts';
import { paths } from '../host/paths.ts';
import type { Reporter } from '../cli/reporter.ts';
import type { Bake, HistoryEntry } from '../record/state-shape.ts';
import { describeFigures, judgeWindow, NO_FIGURES, openTrafficLog, runBakeCheck, thresholdsFrom, type TrafficLog, type WindowVerdict } from '../judge/index.ts';

/**
 * The bake window's judgement: each CANARY_INTERVAL, nginx's figures for the new slot against the
 * old slot's before the switch (and BAKE_CHECK_CMD, run meanwhile). CANARY_FAILED_WINDOWS failed
 * windows in a row ask for a rollback; an inconclusive window neither fails nor passes. Each window
 * is a line in bake.log and, for status, DEPLOY_ROOT/run/judgement.json.
 */

export type Judgement = NonNullable<HistoryEntry['judgement']>;
export type RollbackCall = { reason: string; judgement: Judgement };
export type BakeJudge = {
  /** Called on every turn of the watcher; judges a window when one is complete. */
  tick(): Promise<RollbackCall | undefined>;
  /** The last line of the window: what was judged, and whether any verdict was reached. */
  summary(): string;
  close(): Promise<void>;
};

/** `endsAt` names the bake window it belongs to (a later window has another). */
export type JudgementReport = {
  at: string;
  endsAt: string;
  window: number;
  slot: string;
  verdict: WindowVerdict;
  failedInRow: number;
  check?: string;
};

export function judgementFile(deployRoot: string): string {
  return path.join(paths.run(deployRoot), 'judgement.json');
}

export function readJudgement(deployRoot: string): JudgementReport | undefined {
  try {
    return JSON.parse(readFileSync(judgementFile(deployRoot), 'utf8')) as JudgementReport;
  } catch {
    return undefined;
  }
}

export async function startBakeJudge(
  config: Config,
  bake: Bake,
  reporter: Reporter,
  env: Record<string, string | undefined>,
  signal?: AbortSignal,
): Promise<BakeJudge | undefined> {
  let log: TrafficLog;
  try {
    log = await openTrafficLog(config);
  } catch (error) {
    reporter.warn(`nginx's figures are not judged in this window (health checks still are): ${isSwitchyardError(error) ? error.line : (error as Error).message}`);
    return undefined;
  }
  const { intervalMs, failedWindows } = config.judge;
  const baseline = bake.baseline?.figures ?? NO_FIGURES;
  const labels = { candidate: `slot ${bake.live}`, baseline: `slot ${bake.previous} before the switch` };
  if (bake.baseline) reporter.info(`judging slot ${bake.live} each ${formatDuration(intervalMs)} against slot ${bake.previous} before the switch (${formatDuration(bake.baseline.ms)}): ${describeFigures(baseline)}`);
  else reporter.info(`judging slot ${bake.live} each ${formatDuration(intervalMs)} against CANARY_MAX_ERROR_RATE alone: no figures of slot ${bake.previous} from before the switch`);
  const counts = { pass: 0, fail: 0, inconclusive: 0 };
  let windowEndsAt = Date.now() + intervalMs;
  let failedInRow = 0;
  const startCheck = () => runBakeCheck(config, bake.live, bake.previous, { env, signal });
  let check = config.judge.bakeCheckCmd.trim() ? startCheck() : undefined;
  return {
    async tick() {
      if (Date.now() < windowEndsAt) return undefined;
      windowEndsAt = Date.now() + intervalMs;
      const figures = log.take()[bake.live];
      const checked = check ? await check : undefined;
      check = checked ? startCheck() : undefined;
      const judged = judgeWindow(figures, baseline, thresholdsFrom(config), labels);
      const verdict: WindowVerdict = checked && !checked.ok ? { ...judged, outcome: 'fail', reasons: [...judged.reasons, checked.detail] } : judged;
      counts[verdict.outcome]++;
      if (verdict.outcome === 'fail') failedInRow++;
      else if (verdict.outcome === 'pass') failedInRow = 0;
      const window = counts.pass + counts.fail + counts.inconclusive;
      const inRow = verdict.outcome === 'fail' ? ` (${failedInRow} of ${failedWindows} in a row)` : '';
      const why = verdict.reasons.length ? `: ${verdict.reasons.join('; ')}` : '';
      const line = `window ${window} (${formatDuration(intervalMs)}): slot ${bake.live} ${describeFigures(figures)}${checked ? `; ${checked.detail}` : ''}: ${verdict.outcome}${inRow}${why}`;
      if (verdict.outcome === 'fail') reporter.warn(line);
      else reporter.info(line);
      const report: JudgementReport = { at: new Date().toISOString(), endsAt: bake.endsAt, window, slot: bake.live, verdict, failedInRow };
      if (checked) report.check = checked.detail;
      try {
        writeFileAtomic(judgementFile(config.deployRoot), `${JSON.stringify(report)}\n`);
      } catch {
        // For status only: the judgement goes on without it.
      }
      if (failedInRow < failedWindows) return undefined;
      return {
        reason: `slot ${bake.live} failed ${failedInRow} judged windows in a row during the bake window: ${verdict.reasons.join('; ')}`,
        judgement: { failedWindows: failedInRow, candidate: verdict.candidate, baseline: verdict.baseline, reasons: verdict.reasons },
      };
    },
    summary() {
      const judged = `${counts.pass} window(s) passed, ${counts.fail} failed, ${counts.inconclusive} inconclusive`;
      if (counts.pass + counts.fail === 0) return `no verdict on slot ${bake.live}: too few requests to judge it in any window (${judged}); that is not a pass`;
      return `judgement of slot ${bake.live}: ${judged}`;
    },
    async close() {
      await check?.catch(() => undefined);
      await log.close();
    },
  };
}

/** For status: the last judged window of this bake window, or that there is none yet. */
export function describeJudgement(deployRoot: string, bake: Bake): string | undefined {
  if (!bake.autoRollback) return undefined;
  const report = readJudgement(deployRoot);
  if (!report || report.endsAt !== bake.endsAt) return `judgement of slot ${bake.live}: no window judged yet`;
  const { verdict } = report;
  const why = verdict.reasons.length ? `: ${verdict.reasons.join('; ')}` : '';
  return `judgement of slot ${bake.live}, window ${report.window} (at ${report.at}): ${describeFigures(verdict.candidate)}${report.check ? `; ${report.check}` : ''}: ${verdict.outcome}${why}`;
}
