import { SwitchyardError } from '../../errors.ts';
import { canarySteps } from '../../canary/share.ts';
import { canaryLogFile, startCanaryWatcher } from '../../canary/watcher.ts';
import { canaryBegun, canaryEnded, canaryHandedOver, canaryWatched } from '../../record/transitions.ts';
import { canaryUnreachable, confirmCanary, removeCanary, writeCanaryShare } from '../../traffic/canary-files.ts';
import type { StepFunction } from '../types.ts';

/**
 * Instead of the switch: the first share of users goes to the new slot (bucket files, no reload),
 * confirmed through nginx, and a detached watcher takes the canary over. The canary is recorded
 * before its files exist, so a kill at any point leaves a canary the next command ends (reconcile.ts).
 */
export const canary: StepFunction = async (run, io) => {
  const { config } = io;
  const step = io.reporter.step('canary');
  const before = await io.slotAnswers(run.target);
  if (before !== true) throw new SwitchyardError(`slot ${run.target} no longer answers (${before}), so no user was sent to it`, { details: io.logTail() });
  const unreachable = canaryUnreachable(config, run.target);
  if (unreachable) throw new SwitchyardError(unreachable, { untouched: `no canary file was written; slot ${run.previous} still gets every user` });
  const steps = canarySteps(run.canary ?? 0, config.canarySteps);
  const now = new Date().toISOString();
  io.store.apply(
    canaryBegun({
      slot: run.target,
      live: run.previous!,
      commit: run.commit,
      steps,
      step: 0,
      share: steps[0],
      startedAt: now,
      stepStartedAt: now,
      watcherPid: null,
      windows: [],
      user: io.ctx.deployer,
      deployStartedAt: new Date(run.started).toISOString(),
      ...(run.revision !== undefined ? { requested: run.revision } : {}),
      ...(run.logId ? { log: run.logId } : {}),
    }),
  );
  io.effect('canaryBegun');
  writeCanaryShare(config, run.target, steps[0]);
  await io.ctx.atPhase?.('canary-files-written');
  let confirmed: string;
  try {
    confirmed = await confirmCanary(config, run.target, steps[0], (message) => step.progress(message));
  } catch (error) {
    removeCanary(config);
    io.store.apply(canaryEnded);
    throw error;
  }
  const pid = startCanaryWatcher(config, io.ctx.cliEnv ?? {}, run.logId);
  io.store.apply(canaryWatched(pid), canaryHandedOver);
  io.effect('canaryHandedOver');
  const plan = steps.map((share) => `${share}%`).join(' → ');
  step.done(`${steps[0]}% of users on slot ${run.target}, the rest on slot ${run.previous} (${confirmed}; no reload)`);
  return {
    canaryLine: `${steps[0]}% of users (${plan}, then everyone) judged by watcher pid ${pid} (log ${canaryLogFile(config.deployRoot)}); ./deploy.ts status follows it, ./deploy.ts promote or rollback ends it now`,
  };
};
