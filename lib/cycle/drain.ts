import type { Config, SlotName } from '../config/config.ts';
import { openConnections, waitForNoConnections } from '../slot/connections.ts';
import { formatDuration } from '../config/duration.ts';
import type { SlotProcesses } from '../slot/process-manager.ts';
import { runningEndpoints } from '../slot/running-endpoints.ts';
import type { Reporter, Step } from '../cli/reporter.ts';
import { proxyName } from '../traffic/types.ts';
import { clearWarm } from '../traffic/warm.ts';

/** Long-lived connections (WebSocket, SSE, long-poll) open to a slot, a process left from a larger INSTANCES included. */
export function longLivedCount(config: Config, slot: SlotName): number {
  return runningEndpoints(config, slot).reduce((sum, endpoint) => sum + openConnections(endpoint, 'long-lived'), 0);
}

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
  /**
   * Given (a deploy, rollback or restart): once no request is in flight, a slot that still holds
   * long-lived connections is handed to the background watcher instead of being stopped here; returns
   * the step's line.
   */
  handOff?: (longLived: number) => Promise<string>;
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
    // Every process the slot still runs (one left from a larger INSTANCES included), where it was started.
    const endpoints = runningEndpoints(config, slot);
    const waitInFlight = () =>
      // The step's progress line adds the time itself.
      waitForNoConnections(endpoints, config.stopTimeoutMs, (open) => step.progress(`${open} connection(s) from ${proxy} still open to slot ${slot}`));
    let first: Awaited<ReturnType<typeof waitInFlight>> | undefined;
    if (request.handOff) {
      // Long-lived connections are not waited for here: the session cookie keeps its slot warm, the watcher retires it.
      first = await waitInFlight();
      const longLived = first.openAtEnd === 0 ? longLivedCount(config, slot) : 0;
      if (longLived > 0) return `${first.openAtStart} connection(s) from ${proxy} to slot ${slot} closed in ${formatDuration(first.waitedMs)}; ${await request.handOff(longLived)}`;
    }
    // From here no session goes back to the slot; what the cookie sent there until now finishes first.
    clearWarm(config, slot);
    const again = await waitInFlight();
    const drained = first
      ? { openAtStart: first.openAtStart, openAtEnd: again.openAtEnd, waitedMs: first.waitedMs + again.waitedMs }
      : again;
    atSignal = drained.openAtEnd;
    const how = drained.openAtEnd === 0
      ? `${drained.openAtStart} connection(s) from ${proxy} to slot ${slot} closed in ${formatDuration(drained.waitedMs)}`
      : `${drained.openAtEnd} of ${drained.openAtStart} connection(s) to slot ${slot} still open after STOP_TIMEOUT (${formatDuration(config.stopTimeoutMs)})`;
    atProxy = `${how}; `;
    if (drained.openAtEnd > 0) reporter.warn(`${how}: sending SIGTERM anyway; requests still running there depend on the app's own graceful shutdown`);
  }
  if (!request.atProxy) clearWarm(config, slot);
  const longLivedAtSignal = longLivedCount(config, slot);
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
  // Switchyard cannot see whether they got a close frame: the app's drain helper sends one, an app without a handler cuts them.
  const streams = longLivedAtSignal > 0 && outcome.result !== 'not-running' ? ` with ${longLivedAtSignal} long-lived connection(s) open at SIGTERM (closed by the app's drain helper, or cut)` : '';
  await request.hook('post_stop');
  return `${atProxy}slot ${slot} ${how}${streams}`;
}
