import { commandLine, listPids, procStat } from '../host/proc.ts';

/** Pids of the master's child processes (its workers, including ones shutting down), read from /proc. */
export function childPids(parentPid: number): number[] {
  const children: number[] = [];
  for (const pid of listPids() ?? []) {
    const stat = procStat(pid);
    if (stat && stat.ppid === parentPid && stat.state !== 'Z') children.push(pid);
  }
  return children;
}

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
