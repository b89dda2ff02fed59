import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Connections open to a slot's port, read from /proc/net/tcp{,6}. Only nginx connects to a slot, and
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

export function openConnections(port: number): number {
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      count += countEstablished(readFileSync(file, 'utf8'), port);
    } catch {
      // No IPv6 table on this host.
    }
  }
  return count;
}

export type ProxyDrain = { openAtStart: number; openAtEnd: number; waitedMs: number };

/** Wait until nothing is connected to `port`, or `timeoutMs`; says how many were open and how long it took. */
export async function waitForNoConnections(port: number, timeoutMs: number, onWait?: (open: number, elapsedMs: number) => void): Promise<ProxyDrain> {
  const started = Date.now();
  const openAtStart = openConnections(port);
  let open = openAtStart;
  let lastReport = started;
  while (open > 0 && Date.now() - started < timeoutMs) {
    if (onWait && Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      onWait(open, Date.now() - started);
    }
    await sleep(50);
    open = openConnections(port);
  }
  return { openAtStart, openAtEnd: open, waitedMs: Date.now() - started };
}
