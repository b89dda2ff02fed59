import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from './endpoints.ts';
import { socketTable } from '../host/proc.ts';

/**
 * Connections open to a slot's port, read from /proc/net/tcp{,6} (or to its socket, from /proc/net/unix). Only nginx connects to a slot, and
 * its idle upstream connections close after the upstream's keepalive_timeout (1s), so an established
 * connection that stays means a request is still running there.
 */

const ESTABLISHED = '01';

/** Established connections whose local port is `port`, in one /proc/net/tcp table. Pure. */
export function countEstablished(table: string, port: number): number {
  let count = 0;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[3] !== ESTABLISHED) continue;
    const localPort = parseInt(fields[1].split(':').pop() ?? '', 16);
    if (localPort === port) count++;
  }
  return count;
}

/** Connected sockets accepted on the unix socket `socketPath`, in /proc/net/unix (they show its path, state 03). Pure. */
export function countConnectedUnix(table: string, socketPath: string): number {
  let count = 0;
  for (const line of table.split('\n').slice(1)) {
    const match = /^\S+:\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s(.*)$/.exec(line.trim());
    if (match && match[1] === '03' && match[2] === socketPath) count++;
  }
  return count;
}

/** Connections open to an endpoint of a slot: its TCP port, or its unix socket. */
export function openConnections(endpoint: Endpoint): number {
  if (endpoint.kind === 'socket') {
    const table = socketTable('unix');
    return table === undefined ? 0 : countConnectedUnix(table, endpoint.path);
  }
  const port = endpoint.port;
  let count = 0;
  // No IPv6 table on some hosts: a missing table counts nothing.
  for (const name of ['tcp', 'tcp6'] as const) count += countEstablished(socketTable(name) ?? '', port);
  return count;
}

export type ProxyDrain = { openAtStart: number; openAtEnd: number; waitedMs: number };

/** Wait until nothing is connected to any of `endpoints` (a slot's), or `timeoutMs`; says how many were open and how long it took. */
export async function waitForNoConnections(endpoints: Endpoint[], timeoutMs: number, onWait?: (open: number, elapsedMs: number) => void): Promise<ProxyDrain> {
  const started = Date.now();
  const count = () => endpoints.reduce((sum, endpoint) => sum + openConnections(endpoint), 0);
  const openAtStart = count();
  let open = openAtStart;
  let lastReport = started;
  while (open > 0 && Date.now() - started < timeoutMs) {
    if (onWait && Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      onWait(open, Date.now() - started);
    }
    await sleep(50);
    open = count();
  }
  return { openAtStart, openAtEnd: open, waitedMs: Date.now() - started };
}
