import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { countConnectedUnix, countEstablished, openConnections, waitForNoConnections } from '../../lib/slot/connections.ts';
import { waitFor } from '../../harness/wait.ts';

describe('connections open to a slot', () => {
  it('counts only established connections whose local port is the slot port', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:0BB9 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1',
      '   1: 0100007F:0BB9 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 2 1',
      '   2: 0100007F:D431 0100007F:0BB9 01 00000000:00000000 00:00000000 00000000    33        0 3 1',
      '   3: 0100007F:0BB9 0100007F:D432 06 00000000:00000000 00:00000000 00000000  1000        0 4 1',
    ].join('\n');
    expect(countEstablished(table, 3001)).toBe(1);
    expect(countEstablished(table, 54321)).toBe(1);
    expect(countEstablished(table, 3002)).toBe(0);
  });

  it('tells long-lived connections (from 127.0.0.2, the site\'s stream location) from requests in flight', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:0BB9 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 2 1',
      '   1: 0100007F:0BB9 0200007F:D432 01 00000000:00000000 00:00000000 00000000  1000        0 3 1',
      '   2: 0100007F:0BB9 0200007F:D433 01 00000000:00000000 00:00000000 00000000  1000        0 4 1',
    ].join('\n');
    expect(countEstablished(table, 3001)).toBe(3);
    expect(countEstablished(table, 3001, 'in-flight')).toBe(1);
    expect(countEstablished(table, 3001, 'long-lived')).toBe(2);
    const table6 = '  sl  local_address                         remote_address                        st\n   0: 0000000000000000FFFF00000100007F:0BB9 0000000000000000FFFF00000200007F:D431 01 0';
    expect(countEstablished(table6, 3001, 'long-lived')).toBe(1);
  });

  it('sees a real connection to a real server, and waits until it closes', async () => {
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const endpoint = { kind: 'port' as const, port, index: 0 };
    try {
      expect(openConnections(endpoint)).toBe(0);
      const client = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => client.once('connect', resolve));
      await waitFor('the server side of the connection in the table', () => openConnections(endpoint) >= 1, { timeoutMs: 5000 });
      expect(openConnections(endpoint)).toBe(1);
      setTimeout(() => client.end(), 300);
      const drained = await waitForNoConnections([endpoint], 5000);
      expect(drained.openAtStart).toBe(1);
      expect(drained.openAtEnd).toBe(0);
      expect(drained.waitedMs).toBeGreaterThanOrEqual(250);
      const stuck = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => stuck.once('connect', resolve));
      const bounded = await waitForNoConnections([endpoint], 200);
      expect(bounded.openAtEnd).toBe(1);
      stuck.destroy();
    } finally {
      server.close();
    }
  });

  it('counts connections accepted on a unix socket (state 03 with its path), not the listener or other sockets', () => {
    const table = [
      'Num       RefCount Protocol Flags    Type St Inode Path',
      '000000009380f038: 00000002 00000000 00010000 0001 01 18139 /srv/my app/sockets/a1.sock',
      '00000000949557a7: 00000003 00000000 00000000 0001 03 18141 /srv/my app/sockets/a1.sock',
      '00000000949557a8: 00000003 00000000 00000000 0001 03 18142 /srv/my app/sockets/a2.sock',
      '00000000949557a9: 00000003 00000000 00000000 0001 03 18143',
    ].join('\n');
    expect(countConnectedUnix(table, '/srv/my app/sockets/a1.sock')).toBe(1);
    expect(countConnectedUnix(table, '/srv/my app/sockets/b1.sock')).toBe(0);
  });

  it('sees a real connection to a real unix socket server, and waits until it closes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-unix-'));
    const socketPath = path.join(dir, 'a1.sock');
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const endpoint = { kind: 'socket' as const, path: socketPath, index: 0 };
    try {
      expect(openConnections(endpoint)).toBe(0);
      const client = net.connect(socketPath);
      await new Promise((resolve) => client.once('connect', resolve));
      await waitFor('the server side of the connection in the table', () => openConnections(endpoint) >= 1, { timeoutMs: 5000 });
      expect(openConnections(endpoint)).toBe(1);
      setTimeout(() => client.end(), 300);
      const drained = await waitForNoConnections([endpoint], 5000);
      expect(drained).toMatchObject({ openAtStart: 1, openAtEnd: 0 });
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
