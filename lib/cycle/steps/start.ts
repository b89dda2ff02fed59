import { linkSlot } from '../../release/release-files.ts';
import { releaseCompleted, slotPointedAt, slotStarted, bakeEnded } from '../../record/transitions.ts';
import { waitForNoConnections } from '../../slot/connections.ts';
import { describeEndpoints, slotEndpoints } from '../../slot/endpoints.ts';
import { refuseTakenEndpoints } from '../../slot/health.ts';
import { runningEndpoints } from '../../slot/running-endpoints.ts';
import { drainsAtProxy } from '../../traffic/index.ts';
import { clearWarm } from '../../traffic/warm.ts';
import type { Run, StepFunction, StepIo } from '../types.ts';

/** Start the target slot on the release: its symlink moved first, its endpoints checked free. */
export const start: StepFunction = async (run, io) => {
  endBakeWindow(io);
  const { config, processes } = io;
  const endpoints = slotEndpoints(config, run.target);
  if (await processes.runningPid(run.target)) {
    // Often the previous live slot (a bake window just ended): let nginx finish what it sent there first.
    clearWarm(config, run.target);
    if (drainsAtProxy(config.switchKind)) await waitForNoConnections(runningEndpoints(config, run.target), config.stopTimeoutMs);
    await processes.stop(run.target);
  }
  pointSlotAtBuild(run, io);
  await refuseTakenEndpoints(config, run.target);
  const step = io.reporter.step('start');
  // The kill tests' point between a supervisor's spawn and its pid file (recovery must find it then too).
  const pid = await processes.start(run.target, undefined, () => io.ctx.atPhase?.('supervisor-spawned'));
  io.effect('newSlotStarted');
  io.store.apply(slotStarted(run.target, pid, new Date().toISOString()));
  const pool = endpoints.length > 1 ? `${endpoints.length} processes, first ` : '';
  step.done(`slot ${run.target} on ${describeEndpoints(endpoints)} (${pool}pid ${pid}): ${config.startCmd}`);
};

/**
 * A command ends a running bake window once it is about to change a slot (a command that fails
 * before that leaves the window, and its watcher, as they were); the watcher sees it gone and stands down.
 */
export function endBakeWindow(io: StepIo): void {
  if (io.store.state.bake) io.store.apply(bakeEnded);
}

/** The target slot's symlink now names the release it is about to run; the state says so first. */
function pointSlotAtBuild(run: Readonly<Run>, io: StepIo): void {
  const slot = io.store.state.slots[run.target];
  const legacyCommit = slot.commit;
  io.store.apply(slotPointedAt(run.target, run.commit, io.store.state.releases?.[run.commit!]?.builtAt ?? slot.builtAt));
  if (linkSlot(io.config, run.target, run.buildDir!, legacyCommit) === 'moved' && legacyCommit) {
    // A build from before releases, kept as one: it stays a rollback target.
    io.store.apply(releaseCompleted(legacyCommit, new Date().toISOString(), undefined));
  }
}
