import net from 'node:net';

/** A port nothing listens on right now, on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
  const taken = new Set<number>();
  for (let attempt = 0; starts.length < count && attempt < 200; attempt++) {
    const start = await freePort();
    const run = Array.from({ length: width }, (_, index) => start + index);
    if (run.some((port) => taken.has(port) || port > 65535)) continue;
    const free = await Promise.all(run.slice(1).map((port) => acceptsConnections(port).then((busy) => !busy && canBind(port))));
    if (!free.every(Boolean)) continue;
    run.forEach((port) => taken.add(port));
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
