import { setTimeout as sleep } from 'node:timers/promises';
import { commandLine, procStat } from '../host/proc.ts';
import { isAlive } from '../host/process.ts';
import { formatDuration } from '../config/duration.ts';
import { SwitchyardError } from '../errors.ts';
import type { SwitchReport } from './types.ts';

/** Test-only kill points between the parts of an nginx change (SWITCHYARD_TEST_FAULT). */
export type PhaseHooks = { phase?: (name: string) => Promise<void> | void };

/**
 * Whether a worker still takes new requests. After a reload the master sends SIGQUIT to each old
 * worker, which then closes its listening sockets, retitles itself "worker process is shutting down"
 * and only finishes requests it already had: from then on it can never send a new request anywhere.
 */
export function takesNewRequests(pid: number): boolean {
  const title = commandLine(pid);
  const stat = procStat(pid);
  return title !== undefined && stat !== undefined && stat.state !== 'Z' && !title.includes('shutting down');
}

/** After a reload: wait until none of the old workers takes new requests (they finish the ones they have). */
export async function waitForOldWorkers(
  master: number | undefined,
  oldWorkers: number[],
  pidFile: string,
  timeoutMs: number,
  report: SwitchReport,
): Promise<string> {
  if (!master) {
    // Without the master's pid we cannot see the workers; give the reload a moment rather than none.
    await sleep(1000);
    return `nginx reloaded (its pid file ${pidFile} was not readable, so Switchyard waited 1s instead of watching the old workers)`;
  }
  const started = Date.now();
  let lastReport = started;
  // The master answers a reload by starting new workers and then asking the old ones to quit; an old
  // worker that is shutting down only finishes the requests it has (slow ones may take seconds), and
  // those fall over to the new slot (the upstream's backup) if the old one stops listening meanwhile.
  while (oldWorkers.some(takesNewRequests)) {
    if (!isAlive(master)) throw new SwitchyardError(`the nginx master (pid ${master}) exited during the reload`, { next: 'start nginx, then run the command again' });
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw new SwitchyardError(`${oldWorkers.filter(takesNewRequests).length} nginx worker(s) still run the previous config ${formatDuration(elapsed)} after the reload`, {
        next: 'check the nginx error log; the reload may not have been applied',
      });
    }
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      report(`waiting for ${oldWorkers.filter(takesNewRequests).length} nginx worker(s) with the previous config to stop taking requests (${formatDuration(elapsed)})`);
    }
    await sleep(20);
  }
  return `nginx reloaded; its ${oldWorkers.length} old worker(s) stopped taking requests after ${formatDuration(Date.now() - started)}`;
}
