import type { Reporter } from '../cli/reporter.ts';
import type { Config } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { SwitchyardError } from '../errors.ts';
import { shortCommit, type Canary, type State } from '../record/state-shape.ts';
import { openStore, updateState } from '../record/store.ts';
import { bakeBegun, bakeWatched, canaryEnded, historyAppended, slotStopped, trafficMovedTo } from '../record/transitions.ts';
import { drainAndStop } from '../cycle/drain.ts';
import { describeProbe, probeSlot } from '../slot/health.ts';
import type { SlotProcesses } from '../slot/process-manager.ts';
import { removeCanary } from '../traffic/canary-files.ts';
import { createSwitch, drainsAtProxy, trafficTarget } from '../traffic/index.ts';
import { markWarm } from '../traffic/warm.ts';
import { startBakeWatcher } from '../cycle/bake.ts';

/**
 * The two ends of a canary, for the watcher and for `promote` / `rollback`; the caller holds the
 * deploy lock. Each writes the state before it acts where a kill would otherwise leave the site in
 * doubt, so the next command can finish the job (lib/record/reconcile.ts).
 */

export type CanaryEndContext = {
  config: Config;
  reporter: Reporter;
  processes: SlotProcesses;
  user: string;
  /** The caller's environment, for the bake window's watcher the promotion starts. */
  cliEnv: Record<string, string | undefined>;
};

function deployEntry(canary: Canary, state: State, outcome: 'success' | 'failed', reason?: string, automatic?: boolean) {
  return historyAppended({
    at: canary.deployStartedAt,
    user: canary.user,
    command: 'deploy',
    slot: canary.slot,
    commit: canary.commit,
    previousCommit: state.slots[canary.live].commit,
    outcome,
    durationMs: Date.now() - Date.parse(canary.deployStartedAt),
    ...(reason ? { reason } : {}),
    ...(automatic ? { automatic } : {}),
    ...(canary.requested !== undefined ? { requested: canary.requested } : {}),
    ...(canary.log ? { log: canary.log } : {}),
  });
}

/**
 * Every user back on the live slot: the canary is recorded as ended (with the deploy's failed
 * outcome and `reason`) first, then its files go (one rename: well under a second), then the
 * canary slot is drained and stopped. Returns the line to print.
 */
export async function rollBackCanary(ctx: CanaryEndContext, reason: string, automatic: boolean): Promise<string> {
  const { config, reporter } = ctx;
  const store = openStore(config, reporter.redactor);
  const canary = store.state.canary;
  if (!canary) return 'no canary is running; nothing to roll back';
  const started = Date.now();
  let state = store.apply(canaryEnded, deployEntry(canary, store.state, 'failed', reason, automatic));
  removeCanary(config);
  const back = Date.now() - started;
  const step = reporter.step('drain');
  const detail = await drainAndStop({
    config,
    processes: ctx.processes,
    reporter,
    step,
    slot: canary.slot,
    atProxy: drainsAtProxy(config.switchKind),
    hook: async () => undefined,
    stopped: () => {
      state = updateState(config, reporter.redactor, slotStopped(canary.slot));
    },
  });
  step.done(detail);
  return `canary of ${shortCommit(canary.commit)} rolled back: every user on slot ${canary.live} (${shortCommit(state.slots[canary.live].commit)}) ${formatDuration(back)} after the decision; slot ${canary.slot} stopped; ${reason}`;
}

/**
 * Everyone to the canary slot: the ordinary switch (live-file, confirmed through nginx), recorded
 * as the deploy's success, then the canary files go, then the previous slot is baked (BAKE_TIME, a
 * detached watcher) or drained and stopped. Returns the line to print.
 */
export async function promoteCanary(ctx: CanaryEndContext, why: string): Promise<string> {
  const { config, reporter } = ctx;
  const store = openStore(config, reporter.redactor);
  const { state } = store;
  const canary = state.canary;
  if (!canary) return 'no canary is running; nothing to promote';
  const probe = await probeSlot(config, canary.slot);
  if (!probe.ok) {
    throw new SwitchyardError(`the canary slot ${canary.slot} does not answer its health check (${describeProbe(probe)}), so it was not promoted`, {
      untouched: `the canary goes on at ${canary.share}% of users; slot ${canary.live} serves the rest`,
      next: './deploy.ts rollback ends the canary',
    });
  }
  const step = reporter.step('switch');
  markWarm(config, canary.live);
  const detail = await createSwitch(config).moveTo(
    trafficTarget(config, canary.slot, canary.commit),
    trafficTarget(config, canary.live, state.slots[canary.live].commit),
    (message) => step.progress(message),
  );
  store.apply(trafficMovedTo(canary.slot), canaryEnded, deployEntry(canary, state, 'success', undefined));
  removeCanary(config);
  step.done(detail);
  const previous = canary.live;
  let after: string;
  if (config.bakeTimeMs > 0) {
    const endsAt = new Date(Date.now() + config.bakeTimeMs).toISOString();
    store.apply(bakeBegun({ previous, live: canary.slot, endsAt, watcherPid: null, autoRollback: config.autoRollback }));
    const pid = startBakeWatcher(config, ctx.cliEnv, canary.log);
    store.apply(bakeWatched(pid));
    after = `slot ${previous} stays warm for an instant rollback until ${endsAt} (bake watcher pid ${pid})`;
  } else {
    const drain = reporter.step('drain');
    after = await drainAndStop({
      config,
      processes: ctx.processes,
      reporter,
      step: drain,
      slot: previous,
      atProxy: drainsAtProxy(config.switchKind),
      hook: async () => undefined,
      stopped: () => updateState(config, reporter.redactor, slotStopped(previous)),
    });
    drain.done(after);
  }
  return `promoted ${shortCommit(canary.commit)} on slot ${canary.slot} to every user (${why}); ${after}`;
}
