import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint } from './endpoints.ts';
import { socketTable } from '../host/proc.ts';

/**
 * Connections open to a slot's port, read from /proc/net/tcp{,6} (or to its socket, from /proc/net/unix). Only nginx connects to a slot, and
 * its idle upstream connections close after the upstream's keepalive_timeout (1s), so an established
 * connection that stays means a request is still running there, unless it comes from
 * LONG_LIVED_SOURCE: the site's stream location (WebSocket, SSE, long-poll) connects from there, and
 * those are retired in the background (lib/cycle/retire.ts), never waited for by a deploy.
 */

/** The loopback address the nginx site's stream location binds to (lib/traffic/long-lived.ts renders it). */
export const LONG_LIVED_SOURCE = '127.0.0.2';

const ESTABLISHED = '01';

/** An IPv4 address as /proc/net/tcp spells it (host byte order, little-endian here), and as tcp6 spells it mapped. */
const procIpv4 = (address: string) => address.split('.').map((byte) => Number(byte).toString(16).padStart(2, '0').toUpperCase()).reverse().join('');
const LONG_LIVED_HEX = new Set([procIpv4(LONG_LIVED_SOURCE), `0000000000000000FFFF0000${procIpv4(LONG_LIVED_SOURCE)}`]);

export type ConnectionKind = 'in-flight' | 'long-lived' | 'any';

/** Established connections whose local port is `port`, in one /proc/net/tcp table; `kind` by the remote address. Pure. */
export function countEstablished(table: string, port: number, kind: ConnectionKind = 'any'): number {
  let count = 0;
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[3] !== ESTABLISHED) continue;
    const localPort = parseInt(fields[1].split(':').pop() ?? '', 16);
    if (localPort !== port) continue;
    const longLived = LONG_LIVED_HEX.has((fields[2].split(':')[0] ?? '').toUpperCase());
    if (kind === 'any' || (kind === 'long-lived') === longLived) count++;
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

/**
 * Connections open to an endpoint of a slot: its TCP port, or its unix socket. By default the ones
 * carrying a request in flight (not long-lived); on a socket every connection counts as one.
 */
export function openConnections(endpoint: Endpoint, kind: ConnectionKind = 'in-flight'): number {
  if (endpoint.kind === 'socket') {
    if (kind === 'long-lived') return 0;
    const table = socketTable('unix');
    return table === undefined ? 0 : countConnectedUnix(table, endpoint.path);
  }
  const port = endpoint.port;
  let count = 0;
  // No IPv6 table on some hosts: a missing table counts nothing.
  for (const name of ['tcp', 'tcp6'] as const) count += countEstablished(socketTable(name) ?? '', port, kind);
  return count;
}

export type ProxyDrain = { openAtStart: number; openAtEnd: number; waitedMs: number };

/** Wait until nothing is connected to any of `endpoints` (a slot's), or `timeoutMs`; says how many were open and how long it took. */
export async function waitForNoConnections(endpoints: Endpoint[], timeoutMs: number, onWait?: (open: number, elapsedMs: number) => void, kind: ConnectionKind = 'in-flight'): Promise<ProxyDrain> {
  const started = Date.now();
  const count = () => endpoints.reduce((sum, endpoint) => sum + openConnections(endpoint, kind), 0);
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
