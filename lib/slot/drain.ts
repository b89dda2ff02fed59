import type { Config, SlotName } from '../config/config.ts';
import { waitForNoConnections } from './connections.ts';
import { formatDuration } from '../config/duration.ts';
import { slotInstances, type SlotProcesses } from './process-manager.ts';
import type { Reporter, Step } from '../cli/reporter.ts';
import { proxyName } from '../traffic/types.ts';

export type DrainRequest = {
  config: Config;
  processes: SlotProcesses;
  reporter: Reporter;
  step: Step;
  slot: SlotName;
  /** True when new requests no longer reach the slot (nginx modes): then it is drained at the proxy before any signal. */
  atProxy: boolean;
  /** Runs pre_stop / post_stop; `stopped` runs between the stop and post_stop (to record it). */
  hook: (name: 'pre_stop' | 'post_stop') => Promise<void>;
  stopped: () => void;
};

/**
 * Take a slot out of service: wait until nginx has no connection open to it (at most STOP_TIMEOUT),
 * then SIGTERM (SIGKILL after STOP_TIMEOUT). Returns the step's one line: how many connections there
 * were, how long they took, how the process ended.
 */
export async function drainAndStop(request: DrainRequest): Promise<string> {
  const { config, reporter, step, slot } = request;
  let atSignal = 0;
  let atProxy = '';
  if (request.atProxy) {
    const proxy = proxyName(config.switchKind);
    // No new request reaches the slot any more: wait for the ones in flight to end before any signal,
    // so an app without a SIGTERM handler loses nothing and no request runs twice.
    // Every process the slot still runs, one left from a larger INSTANCES included.
    const endpoints = slotInstances(config, slot, { withLeftovers: true }).map((instance) => instance.endpoint);
    const drained = await waitForNoConnections(endpoints, config.stopTimeoutMs, (open) =>
      // The step's progress line adds the time itself.
      step.progress(`${open} connection(s) from ${proxy} still open to slot ${slot}`),
    );
    atSignal = drained.openAtEnd;
    const how = drained.openAtEnd === 0
      ? `${drained.openAtStart} connection(s) from ${proxy} to slot ${slot} closed in ${formatDuration(drained.waitedMs)}`
      : `${drained.openAtEnd} of ${drained.openAtStart} connection(s) to slot ${slot} still open after STOP_TIMEOUT (${formatDuration(config.stopTimeoutMs)})`;
    atProxy = `${how}; `;
    if (drained.openAtEnd > 0) reporter.warn(`${how}: sending SIGTERM anyway; requests still running there depend on the app's own graceful shutdown`);
  }
  await request.hook('pre_stop');
  const outcome = await request.processes.stop(slot, () => step.progress(`slot ${slot} is still draining`));
  request.stopped();
  if (outcome.result === 'killed') {
    reporter.warn(`slot ${slot} did not exit within STOP_TIMEOUT (${formatDuration(config.stopTimeoutMs)}) after SIGTERM and was killed with SIGKILL`);
  }
  if (outcome.result === 'exited' && outcome.waitedMs < 100 && atSignal > 0) {
    reporter.warn(`slot ${slot} exited ${formatDuration(outcome.waitedMs)} after SIGTERM with ${atSignal} connection(s) open: it has no graceful shutdown, so those requests were cut (see graceful/README.md)`);
  }
  const how = { exited: `exited ${formatDuration(outcome.waitedMs)} after SIGTERM`, killed: 'killed with SIGKILL', 'not-running': 'was not running' }[outcome.result];
  await request.hook('post_stop');
  return `${atProxy}slot ${slot} ${how}`;
}
