import { setTimeout as sleep } from 'node:timers/promises';
import type { Reporter } from '../cli/reporter.ts';
import type { Config } from '../config/config.ts';
import { isSwitchyardError } from '../errors.ts';
import { describeFigures, judgeWindow, openTrafficLog, runBakeCheck, thresholdsFrom, type TrafficLog, type WindowVerdict } from '../judge/index.ts';
import { acquireLockWaiting, releaseLock, type Lock } from '../record/lock.ts';
import { loadState } from '../record/state.ts';
import type { Canary, CanaryWindow } from '../record/state-shape.ts';
import { openStore } from '../record/store.ts';
import { canaryJudged, canaryStepped } from '../record/transitions.ts';
import type { SlotProcesses } from '../slot/process-manager.ts';
import { writeCanaryShare } from '../traffic/canary-files.ts';
import { nextAction } from './decide.ts';
import { promoteCanary, rollBackCanary } from './end.ts';
import { untilRecorded } from '../cycle/watcher-start.ts';

/**
 * The canary's watcher: every CANARY_INTERVAL it takes nginx's figures of both slots for that window
 * (lib/judge: the live slot serves the same minutes, so it is the baseline), judges the canary slot
 * against it, records the window, and steps the share, promotes or rolls back (decide.ts). It acts
 * only while it holds the deploy lock and the canary is still the one it was started for.
 */

export type CanaryWatchContext = {
  config: Config;
  reporter: Reporter;
  processes: SlotProcesses;
  user: string;
  cliEnv: Record<string, string | undefined>;
  appEnv: Record<string, string | undefined>;
  /** Test-only fault injection (SWITCHYARD_TEST_FAULT=kill@canary-judged). */
  atPhase?: (phase: string) => Promise<void> | void;
  signal?: AbortSignal;
};

function currentCanary(config: Config): Canary | undefined {
  const state = loadState(config.deployRoot, config.appName, config.ports);
  return state.canary && state.canary.watcherPid === process.pid ? state.canary : undefined;
}

const ENDED = 'the canary was ended by another command; nothing to do';

/**
 * SIGTERM while it waits: it changes nothing, and the canary whose watcher is gone is ended by the
 * next command (every user back on the live slot, reconcile.ts), as after a SIGKILL.
 */
function standDown(canary: Canary, signal: unknown): string {
  return `${String(signal)} received: stopped watching at ${canary.share}% of users; the next deploy, rollback or ./deploy.ts status --repair ends the canary (every user back on slot ${canary.live})`;
}

async function lockWhenFree(ctx: CanaryWatchContext): Promise<Lock | undefined> {
  try {
    const stillOurs = () => !ctx.signal?.aborted && currentCanary(ctx.config) !== undefined;
    return await acquireLockWaiting(ctx.config.deployRoot, 'canary-watch', ctx.user, stillOurs, { timeoutMs: 10 * 60_000, everyMs: 200 });
  } catch (error) {
    if (isSwitchyardError(error) && error.exitCode === 75) return undefined;
    throw error;
  }
}

async function judge(ctx: CanaryWatchContext, canary: Canary, log: TrafficLog): Promise<CanaryWindow> {
  const figures = log.take();
  const labels = { candidate: `slot ${canary.slot}`, baseline: `slot ${canary.live}` };
  let verdict: WindowVerdict = judgeWindow(figures[canary.slot], figures[canary.live], thresholdsFrom(ctx.config), labels);
  if (verdict.outcome !== 'fail' && ctx.config.judge.bakeCheckCmd.trim()) {
    const check = await runBakeCheck(ctx.config, canary.slot, canary.live, { env: ctx.appEnv, signal: ctx.signal });
    if (!check.ok) verdict = { ...verdict, outcome: 'fail', reasons: [...verdict.reasons, check.detail] };
  }
  const { outcome, candidate, baseline, reasons } = verdict;
  return { at: new Date().toISOString(), share: canary.share, outcome, candidate, baseline, reasons };
}

/** The watcher's loop: returns its last line when the canary is over (ended here, or by another command). */
export async function watchCanary(ctx: CanaryWatchContext): Promise<string> {
  const { config, reporter } = ctx;
  await untilRecorded('canary', () => loadState(config.deployRoot, config.appName, config.ports).canary?.watcherPid, { say: (line) => reporter.info(line), signal: ctx.signal });
  const first = currentCanary(config);
  if (!first) return ENDED;
  const log = await openTrafficLog(config);
  try {
    for (;;) {
      // Looked at twice a second: a canary ended by `promote` or `rollback` frees the traffic log's port at once.
      const windowEnds = Date.now() + config.judge.intervalMs;
      while (Date.now() < windowEnds && !ctx.signal?.aborted && currentCanary(config)) {
        await sleep(Math.min(500, windowEnds - Date.now()), undefined, { signal: ctx.signal }).catch(() => undefined);
      }
      const canary = currentCanary(config);
      if (!canary) return ENDED;
      if (ctx.signal?.aborted) return standDown(canary, ctx.signal.reason);
      const window = await judge(ctx, canary, log);
      const lock = await lockWhenFree(ctx);
      if (!lock) return ctx.signal?.aborted ? standDown(canary, ctx.signal.reason) : ENDED;
      try {
        const store = openStore(config, reporter.redactor);
        if (!store.state.canary || store.state.canary.watcherPid !== process.pid) return ENDED;
        const judged = store.apply(canaryJudged(window));
        await ctx.atPhase?.('canary-judged');
        reporter.info(`[${window.at}] ${window.share}% window ${window.outcome}: slot ${canary.slot} ${describeFigures(window.candidate)}; slot ${canary.live} ${describeFigures(window.baseline)}`);
        const action = nextAction(judged.canary!, { ...config.judge, autoRollback: config.autoRollback });
        const end = { config, reporter, processes: ctx.processes, user: ctx.user, cliEnv: ctx.cliEnv };
        if (action.kind === 'step') {
          writeCanaryShare(config, canary.slot, action.share);
          store.apply(canaryStepped(action.step, action.share, new Date().toISOString()));
          reporter.info(`  step ${action.step + 1} of ${canary.steps.length}: ${action.share}% of users on slot ${canary.slot} (no reload)`);
        } else if (action.kind === 'hold') {
          reporter.info(`  holding at ${canary.share}%: ${action.why}`);
        } else {
          // The bake window the promotion starts opens its own traffic log on the same port.
          await log.close();
          if (action.kind === 'promote') return await promoteCanary(end, action.why);
          reporter.warn(`canary of slot ${canary.slot} rolled back automatically: ${action.why}`);
          return await rollBackCanary(end, `rolled back automatically: ${action.why}`, true);
        }
      } finally {
        releaseLock(lock);
      }
    }
  } finally {
    await log.close();
  }
}
