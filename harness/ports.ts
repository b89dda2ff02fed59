import { readFileSync } from 'node:fs';
import net from 'node:net';

/** How many workers' slices the range is cut into: at least vitest.config.ts's maxWorkers. */
const PORT_SLICES = 4;

/**
 * Where test ports come from: outside the kernel's ephemeral range. A port `listen(0)` hands out is
 * from that range, and so is the local port of every outgoing connection (the load generators, nginx
 * and HAProxy to the slots, health probes): a slot's port chosen when a file starts but bound only at
 * its deploy could meanwhile be the local end of some connection, and the app's bind fails with
 * EADDRINUSE (seen with INSTANCES=2 under load). Real hosts use 3001/3002, outside it too.
 */
export const wholeTestPortRange = ((): [number, number] => {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return low - 1 - 20_000 >= 2_000 ? [20_000, low - 1] : [high + 1, 65_535];
})();

/** Worker `pool`'s slice of `range` (the whole range outside vitest). Pure. */
export function portSlice([first, last]: [number, number], pool: number, slices = PORT_SLICES): [number, number] {
  if (!Number.isInteger(pool) || pool < 1) return [first, last];
  const width = Math.floor((last - first + 1) / slices);
  const start = first + ((pool - 1) % slices) * width;
  return [start, start + width - 1];
}

// Vitest runs files in several workers at once, each handing out ports of its own: a port one worker
// chose, not bound yet, could be chosen by another (a slot's port is bound only at its deploy). Each
// worker (VITEST_POOL_ID, 1 to maxWorkers) gets its own slice of the range, so none can.
const [firstTestPort, lastTestPort] = portSlice(wholeTestPortRange, Number(process.env.VITEST_POOL_ID));

/** The ports this process hands out: its worker's slice of the range outside the ephemeral ports. */
export const testPortRange = (): [number, number] => [firstTestPort, lastTestPort];

/** Ports this process has handed out: never twice, even before a test binds them. */
const handedOut = new Set<number>();

/** A port nothing listens on right now, on loopback, outside the ephemeral range; `width` consecutive ones fit after it in the range. */
export async function freePort(width = 1): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = firstTestPort + Math.floor(Math.random() * (lastTestPort - width + 1 - firstTestPort + 1));
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port on 127.0.0.1 between ${firstTestPort} and ${lastTestPort}`);
}

/** Distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** `count` runs of `width` consecutive free ports each (a slot's ports with INSTANCES = width), not overlapping. */
export async function freePortRuns(count: number, width: number): Promise<number[]> {
  const starts: number[] = [];
  for (let attempt = 0; starts.length < count && attempt < 200; attempt++) {
    const start = await freePort(width);
    // freePort handed out `start`; the rest of the run must be neither handed out (here or before) nor taken.
    const rest = Array.from({ length: width - 1 }, (_, index) => start + 1 + index);
    if (rest.some((port) => handedOut.has(port))) continue;
    const free = await Promise.all(rest.map((port) => acceptsConnections(port).then((busy) => !busy && canBind(port))));
    if (!free.every(Boolean)) continue;
    rest.forEach((port) => handedOut.add(port));
    starts.push(start);
  }
  if (starts.length < count) throw new Error(`could not find ${count} runs of ${width} free ports on 127.0.0.1`);
  return starts;
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port (a test server that has started). */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
