import { formatDuration } from '../../config/duration.ts';
import { bakeBegun, bakeWatched } from '../../record/transitions.ts';
import { bakeLogFile, startBakeWatcher } from '../bake.ts';
import type { Run, StepFunction, StepIo } from '../types.ts';

/**
 * With BAKE_TIME, the previous slot is not drained before this command returns: after a deploy it
 * stays warm until the window ends (a rollback is then a switch only); after a rollback it is
 * drained and stopped at once, in the background. Either way by a detached watcher, recorded in the
 * state first so a crash at any point leaves a window the next command ends. The table runs this
 * step instead of `drain` when BAKE_TIME is set (not for restart, nor a first deploy).
 */
export const bake: StepFunction = async (run, io) => {
  const previous = run.previous!;
  const { config } = io;
  const step = io.reporter.step('bake');
  const deploy = run.command === 'deploy';
  const endsAt = new Date(Date.now() + (deploy ? config.bakeTimeMs : 0)).toISOString();
  const pid = handToWatcher(run, io, endsAt, deploy && config.autoRollback);
  const baking = deploy
    ? `stays warm for an instant rollback until ${endsAt} (BAKE_TIME ${formatDuration(config.bakeTimeMs)}; auto rollback ${config.autoRollback ? 'on' : 'off'}; watcher pid ${pid})`
    : `is drained and stopped in the background (watcher pid ${pid}, log ${bakeLogFile(config.deployRoot)})`;
  step.done(`slot ${previous} ${baking}`);
  return { baking };
};

/**
 * The previous slot handed to a detached watcher: recorded as a window first, then watched, so a
 * crash at any point leaves a window the next command ends. Returns the watcher's pid.
 */
export function handToWatcher(run: Readonly<Run>, io: StepIo, endsAt: string, autoRollback: boolean): number {
  const baseline = run.baseline ?? null;
  io.store.apply(bakeBegun({ previous: run.previous!, live: run.target, endsAt, watcherPid: null, autoRollback, baseline }));
  const pid = startBakeWatcher(io.config, io.ctx.cliEnv ?? {}, run.logId);
  io.store.apply(bakeWatched(pid));
  return pid;
}
