import { slotStopped } from '../../record/transitions.ts';
import { drainAndStop } from '../../slot/drain.ts';
import { drainsAtProxy } from '../../traffic/index.ts';
import type { StepFunction } from '../types.ts';

/** Take the previous slot out of service: drained at the proxy, then stopped, with pre_stop/post_stop around the signal. */
export const drain: StepFunction = async (run, io) => {
  const old = run.previous!;
  const step = io.reporter.step('drain');
  const detail = await drainAndStop({
    config: io.config,
    processes: io.processes,
    reporter: io.reporter,
    step,
    slot: old,
    atProxy: drainsAtProxy(io.config.switchKind),
    hook: (name) => io.hook(name, { STOP_SLOT: old }),
    stopped: () => io.store.defer(slotStopped(old)),
  });
  step.done(detail);
};
