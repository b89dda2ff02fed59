import { SwitchyardError } from '../../errors.ts';
import { trafficMovedTo } from '../../record/transitions.ts';
import { trafficTarget, type SlotTarget } from '../../traffic/index.ts';
import { markWarm } from '../../traffic/warm.ts';
import { endBakeWindow } from './start.ts';
import type { Run, StepFunction, StepIo } from '../types.ts';

/** Move traffic to the target slot, once it still answers; if it dies during the move, traffic goes back. */
export const switchTraffic: StepFunction = async (run, io) => {
  endBakeWindow(io);
  const step = io.reporter.step('switch');
  // Whatever happened since the health check (a crash, someone's `stop`), traffic only moves to a slot that answers now.
  const before = await io.slotAnswers(run.target);
  if (before !== true) throw new SwitchyardError(`slot ${run.target} no longer answers (${before}), so traffic was not moved to it`, { details: io.logTail() });
  const live = trafficTarget(io.config, run.target, run.commit);
  const previous = run.previous ? trafficTarget(io.config, run.previous, io.store.state.slots[run.previous].commit) : null;
  // Sessions that began on the previous slot keep reaching it while it is warm (the site's session cookie).
  if (run.previous) markWarm(io.config, run.previous);
  const detail = await io.traffic.moveTo(live, previous, (message) => step.progress(message));
  io.effect('switched');
  const after = await io.slotAnswers(run.target);
  if (after !== true) await moveBack(run, io, live, previous, after);
  io.store.defer(trafficMovedTo(run.target));
  step.done(detail);
};

/** The new slot died during the switch: put traffic back on the previous slot while it still runs. */
async function moveBack(run: Readonly<Run>, io: StepIo, live: SlotTarget, previous: SlotTarget | null, why: string): Promise<never> {
  const details = io.logTail();
  if (!previous || (await io.slotAnswers(previous.slot)) !== true) {
    throw new SwitchyardError(`slot ${run.target} stopped answering right after the switch (${why}) and no previous slot is running to go back to`, { details });
  }
  await io.traffic.moveTo(previous, live, (message) => io.reporter.info(`  ${message}`));
  io.effect('switchedBack');
  throw new SwitchyardError(`slot ${run.target} stopped answering right after the switch (${why}); traffic was moved back to slot ${previous.slot}`, { details });
}
