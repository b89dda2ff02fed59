import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { countEstablished, openConnections, waitForNoConnections } from '../lib/connections.ts';

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

  it('sees a real connection to a real server, and waits until it closes', async () => {
    const server = net.createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(openConnections(port)).toBe(0);
      const client = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => client.once('connect', resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(openConnections(port)).toBe(1);
      setTimeout(() => client.end(), 300);
      const drained = await waitForNoConnections(port, 5000);
      expect(drained.openAtStart).toBe(1);
      expect(drained.openAtEnd).toBe(0);
      expect(drained.waitedMs).toBeGreaterThanOrEqual(250);
      const stuck = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => stuck.once('connect', resolve));
      const bounded = await waitForNoConnections(port, 200);
      expect(bounded.openAtEnd).toBe(1);
      stuck.destroy();
    } finally {
      server.close();
    }
  });
});
