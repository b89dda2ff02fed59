import { otherSlot, type Config } from '../config/config.ts';
import type { CycleContext } from './types.ts';
import { isBakeWatcher } from './bake.ts';
import { isCanaryWatcher } from '../canary/watcher.ts';
import { canaryOnDisk, removeCanary } from '../traffic/canary-files.ts';
import { confirmedHealthy, probeSlot } from '../slot/health.ts';
import { isAlive } from '../host/process.ts';
import { createSlotProcesses, type SlotProcesses } from '../slot/process-manager.ts';
import { assessHost, reconciledState, type HostFacts } from '../record/reconcile.ts';
import { SLOTS } from '../slot/slots.ts';
import type { CycleCommand, State } from '../record/state-shape.ts';
import { StateStore } from '../record/store.ts';
import { waitForNoConnections } from '../slot/connections.ts';
import { runningEndpoints } from '../slot/running-endpoints.ts';
import { drainsAtProxy, trafficTarget, type TrafficSwitch } from '../traffic/index.ts';
import { removeJudgingFile } from '../judge/index.ts';

/** The side-effecting half of recovery: gather what really runs, then act on reconcile.ts's pure decision. */

/**
 * Make the state match the host before acting; reports every disagreement it puts right. A rollback
 * keeps the recorded live slot while it runs (see AssessOptions): a probe that fails at that moment
 * is why the operator rolls back, not a reason to take the warm slot for live and roll back from it.
 */
export async function reconcile(
  ctx: CycleContext,
  traffic: TrafficSwitch,
  state: State,
  command?: CycleCommand,
): Promise<{ state: State; recovered: boolean }> {
  // Left by a deploy or watcher killed mid-judgement, it has nginx log to a port nobody reads (an error-log line a request).
  removeJudgingFile(ctx.config);
  const processes = ctx.processes ?? createSlotProcesses(ctx.config, ctx.env);
  const facts = await gatherFacts(ctx.config, traffic, processes, state);
  const assessment = assessHost(state, facts, { keepRecordedLive: command === 'rollback' });
  if (assessment.findings.length === 0) return { state, recovered: false };
  const step = ctx.reporter.step('recover');
  for (const finding of assessment.findings) ctx.reporter.warn(finding);
  // Before anything else: from this rename on, every user reaches the live slot.
  if (assessment.endCanary && removeCanary(ctx.config)) ctx.reporter.info(`  removed the canary files: every user goes to the live slot`);
  // Traffic first: a leftover is only stopped once nginx surely points at the slot that stays.
  if (assessment.reswitch && assessment.live) {
    const live = assessment.live;
    const standby = otherSlot(live);
    await traffic.moveTo(
      trafficTarget(ctx.config, live, state.slots[live].commit),
      trafficTarget(ctx.config, standby, state.slots[standby].commit),
      (message) => ctx.reporter.info(`  ${message}`),
    );
  }
  for (const slot of assessment.stop) {
    // The switch just took traffic off it: let the requests it still has finish before the signal.
    if (assessment.reswitch && drainsAtProxy(ctx.config.switchKind)) {
      await waitForNoConnections(runningEndpoints(ctx.config, slot), ctx.config.stopTimeoutMs);
    }
    const outcome = await processes.stop(slot);
    ctx.reporter.info(`  stopped the leftover process of slot ${slot} (${outcome.result})`);
  }
  const store = new StateStore(ctx.config.deployRoot, state, ctx.reporter.redactor);
  const next = store.apply((recorded) => reconciledState(recorded, facts, assessment));
  step.done(`slot ${next.live ?? 'none'} is live`);
  return { state: next, recovered: true };
}

/** What really runs on the host; `state` only tells whether the command its journal names is still alive. */
export async function gatherFacts(config: Config, traffic: TrafficSwitch, processes: SlotProcesses, state: State): Promise<HostFacts> {
  const slots = {} as HostFacts['slots'];
  // Both slots at once: status and every command wait for the slower probe only.
  await Promise.all(
    SLOTS.map(async (slot) => {
      const runningPid = await processes.runningPid(slot);
      const healthy = runningPid !== undefined && (await confirmedHealthy(() => probeSlot(config, slot)));
      slots[slot] = { runningPid, healthy };
    }),
  );
  const holder = state.journal?.pid;
  return {
    slots,
    switchSlot: traffic.currentSlot(),
    journalHolderAlive: holder !== undefined && holder !== process.pid && isAlive(holder),
    bakeWatcherAlive: isBakeWatcher(state.bake?.watcherPid),
    canaryWatcherAlive: isCanaryWatcher(state.canary?.watcherPid),
    canaryFiles: canaryOnDisk(config),
  };
}
