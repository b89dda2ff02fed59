import { formatDuration } from '../../config/duration.ts';
import { slotStopped } from '../../record/transitions.ts';
import { drainAndStop } from '../drain.ts';
import { drainsAtProxy } from '../../traffic/index.ts';
import { bakeLogFile } from '../bake.ts';
import { handToWatcher } from './bake.ts';
import type { StepFunction, StepIo, Run } from '../types.ts';

/**
 * Take the previous slot out of service: drained at the proxy (requests in flight only), then
 * stopped, with pre_stop/post_stop around the signal. A slot that still holds long-lived connections
 * (WebSockets, SSE) is handed to the bake watcher instead, which retires it in the background.
 */
export const drain: StepFunction = async (run, io) => {
  const old = run.previous!;
  const step = io.reporter.step('drain');
  let baking: string | undefined;
  const detail = await drainAndStop({
    config: io.config,
    processes: io.processes,
    reporter: io.reporter,
    step,
    slot: old,
    atProxy: drainsAtProxy(io.config.switchKind),
    hook: (name) => io.hook(name, { STOP_SLOT: old }),
    stopped: () => io.store.defer(slotStopped(old)),
    handOff: async (longLived) => {
      baking = retireInBackground(run, io, longLived);
      return `slot ${old} ${baking}`;
    },
  });
  step.done(detail);
  return baking ? { baking } : undefined;
};

/** A window that ends now: the watcher gives the long-lived connections their budget, then drains and stops the slot. */
function retireInBackground(run: Readonly<Run>, io: StepIo, longLived: number): string {
  const { config } = io;
  const pid = handToWatcher(run, io, new Date().toISOString(), false);
  return `is retired in the background: its ${longLived} long-lived connection(s) may stay up to LONG_LIVED_TIMEOUT (${formatDuration(config.longLivedTimeoutMs)}); watcher pid ${pid}, log ${bakeLogFile(config.deployRoot)}`;
}
