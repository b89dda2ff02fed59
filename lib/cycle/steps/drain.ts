import { formatDuration } from '../../config/duration.ts';
import { bakeBegun, bakeWatched, slotStopped } from '../../record/transitions.ts';
import { drainAndStop } from '../../slot/drain.ts';
import { drainsAtProxy } from '../../traffic/index.ts';
import { bakeLogFile, startBakeWatcher } from '../bake.ts';
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

/** Recorded as a window that ends now, then watched: a crash at any point leaves a window the next command ends. */
function retireInBackground(run: Readonly<Run>, io: StepIo, longLived: number): string {
  const { config } = io;
  io.store.apply(bakeBegun({ previous: run.previous!, live: run.target, endsAt: new Date().toISOString(), watcherPid: null, autoRollback: false }));
  const pid = startBakeWatcher(config, io.ctx.cliEnv ?? {}, run.logId);
  io.store.apply(bakeWatched(pid));
  return `is retired in the background: its ${longLived} long-lived connection(s) may stay up to LONG_LIVED_TIMEOUT (${formatDuration(config.longLivedTimeoutMs)}); watcher pid ${pid}, log ${bakeLogFile(config.deployRoot)}`;
}
