import { SwitchyardError, withContext } from '../errors.ts';
import { shortCommit } from '../record/state-shape.ts';
import { canaryEnded, slotStopped } from '../record/transitions.ts';
import { removeCanary } from '../traffic/canary-files.ts';
import { waitForNoConnections } from '../slot/connections.ts';
import { runningEndpoints } from '../slot/running-endpoints.ts';
import { liveSlotSentence } from '../traffic/serving.ts';
import { drainsAtProxy } from '../traffic/index.ts';
import { NginxNotRunningError } from '../traffic/nginx-running.ts';
import { recordOutcome } from './history.ts';
import type { Run, StepIo } from './types.ts';

/** What a failed run leaves behind, and the one error the operator reads about it. */

/**
 * Before the switch: stop what we started, the live slot is untouched. After it: the new slot stays
 * live. Returns what the error may say of the live slot, checked through nginx (lib/traffic/serving.ts).
 */
export async function cleanUpAfterFailure(
  run: Readonly<Run>,
  io: StepIo,
  error: unknown,
  journalRecord: () => Promise<void>,
): Promise<string | undefined> {
  const { reporter, config, processes, store } = io;
  store.flush();
  // A canary that did not reach its watcher: its users go back to the live slot before the slot stops.
  if (io.effects.canaryBegun && !io.effects.canaryHandedOver && store.state.canary) {
    removeCanary(config);
    store.apply(canaryEnded);
  }
  if (!io.effects.switched && io.effects.startedNewSlot && !io.effects.canaryHandedOver) {
    try {
      // A switch that was undone (a failed SWITCH_CHECK_CMD) may have sent it requests: let them finish first.
      if (drainsAtProxy(config.switchKind)) await waitForNoConnections(runningEndpoints(config, run.target), config.stopTimeoutMs);
      const outcome = await processes.stop(run.target);
      store.defer(slotStopped(run.target));
      reporter.info(`  stopped the new slot ${run.target} (${outcome.result})`);
    } catch (stopError) {
      reporter.warn(`could not stop the new slot ${run.target}: ${(stopError as Error).message}; the next deploy stops it`);
    }
  }
  const reason = error instanceof Error ? error.message : String(error);
  try {
    await journalRecord().catch(() => undefined);
    recordOutcome(run, io, io.ctx.signal.aborted ? 'interrupted' : 'failed', reason);
  } catch (saveError) {
    reporter.warn(`could not record the failure in the state file: ${(saveError as Error).message}`);
  }
  await io.hook('failed', { REASON: reason }).catch((hookError) => reporter.warn(`hook failed failed: ${(hookError as Error).message}`));
  if (!run.previous || io.effects.switched) return undefined;
  const live = run.previous;
  return liveSlotSentence(config, live, `${live} (${shortCommit(store.state.slots[live].commit)})`).catch(() => `slot ${live} is recorded as live (it could not be checked)`);
}

/** `liveSentence`: what cleanUpAfterFailure found of the live slot through nginx. */
export function explainFailure(run: Readonly<Run>, io: StepIo, error: unknown, liveSentence?: string): SwitchyardError {
  const { signal } = io.ctx;
  const state = io.store.state;
  // With nginx stopped the live slot runs, but nothing serves it: do not say it serves.
  const serving = error instanceof NginxNotRunningError ? '' : ' and serving';
  const liveText = run.previous ? ((serving && liveSentence) || `slot ${run.previous} (${shortCommit(state.slots[run.previous].commit)}) is still live${serving}`) : '';
  if (signal.aborted && !io.effects.switched) {
    return new SwitchyardError(`${run.command} interrupted by ${String(signal.reason ?? 'a signal')}: stopped what it had started`, {
      untouched: `${liveText || 'no slot was live'}; the lock was released`,
      next: `run ./deploy.ts ${run.command} again when ready`,
      cause: error,
      exitCode: 130,
    });
  }
  if (io.effects.switched) {
    return withContext(error, `${run.command} switched traffic to slot ${run.target} but did not finish`, {
      untouched: `slot ${run.target} (${shortCommit(run.commit)}) is live`,
      next: 'run ./deploy.ts status to see what is left, then deploy or rollback again',
    });
  }
  const base = error instanceof SwitchyardError ? error : withContext(error, `${run.command} failed`);
  return new SwitchyardError(`${run.command} failed: ${base.message}`, {
    untouched: [liveText, base.untouched ?? (liveText ? 'nothing else was changed' : 'no slot was live before')].filter(Boolean).join('; '),
    next: base.next ?? 'fix the cause above and run the command again',
    details: base.details,
    cause: error,
    exitCode: base.exitCode,
  });
}

export function interruption(signal: AbortSignal): SwitchyardError {
  return new SwitchyardError(`interrupted by ${String(signal.reason ?? 'a signal')}`, { exitCode: 130 });
}
