/**
 * `npm run bench:bounds`: how long Switchyard's bounded waits really take, as figures against the
 * targets the tests once asserted (tests check that a bound holds; how close to it is measured here).
 * Each case runs a few times on loopback only and prints median and worst.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Reporter } from '../lib/cli/reporter.ts';
import { runChecks } from '../lib/setup/doctor/index.ts';
import { probe } from '../lib/slot/health.ts';

const RUNS = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const GRACEFUL_FIXTURE = fileURLToPath(new URL('../test/fixtures/graceful-server.mjs', import.meta.url));

type Case = { name: string; target: string; limitMs: number; floorMs?: number; run: () => Promise<number> };

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** A /health that answers 200, then streams a byte every 300 ms, forever. */
async function streamingServer(): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write('.'), 300);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, close: () => (server.closeAllConnections(), server.close()) };
}

/** The drain helper's fixture, SIGTERMed in the state `prepare` leaves it in; ms from the signal to its exit. */
async function gracefulExit(env: Record<string, string>, prepare: (port: number) => Promise<void>): Promise<number> {
  const child = spawn(process.execPath, [GRACEFUL_FIXTURE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve) => child.stdout.on('data', (chunk) => { const match = /listening (\d+)/.exec(String(chunk)); if (match) resolve(Number(match[1])); }));
  await prepare(port);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return timed(async () => {
    child.kill('SIGTERM');
    await exited;
  });
}

const idleSockets = (count: number) => async (port: number) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: count });
  await Promise.all(Array.from({ length: count }, () => new Promise((resolve) => http.get({ port, host: '127.0.0.1', path: '/', agent }, (res) => { res.resume(); res.on('end', resolve); }))));
};

const hungRequest = async (port: number) => {
  await new Promise<void>((resolve) => {
    const req = http.get({ port, host: '127.0.0.1', path: '/hang' });
    req.on('error', () => undefined);
    setTimeout(resolve, 200);
  });
};

const cases: Case[] = [
  {
    name: 'probe: gives up at its 1000 ms deadline while bytes keep coming',
    target: '< 1800 ms',
    limitMs: 1800,
    run: async () => {
      const server = await streamingServer();
      try {
        return await timed(() => probe(server.url, 1000));
      } finally {
        server.close();
      }
    },
  },
  {
    name: 'probe: stops when its signal aborts (200 ms in)',
    target: '< 1000 ms',
    limitMs: 1000,
    run: async () => {
      const server = await streamingServer();
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      try {
        return await timed(() => probe(server.url, 30_000, { signal: controller.signal }));
      } finally {
        server.close();
      }
    },
  },
  {
    name: 'doctor: a check that hangs, bounded at 300 ms',
    target: '< 2000 ms',
    limitMs: 2000,
    run: () => timed(() => runChecks([{ title: 'hangs', run: () => new Promise(() => undefined) }], {} as never, 300)),
  },
  {
    name: 'drain helper: exit with 3 idle keep-alive sockets (idleClose 600 ms)',
    target: '400 .. 2100 ms',
    floorMs: 400,
    limitMs: 2100,
    run: () => gracefulExit({ GRACEFUL_IDLE_CLOSE: '600' }, idleSockets(3)),
  },
  {
    name: 'drain helper: forced exit with a handler that never ends (timeout 1000 ms)',
    target: '900 .. 3000 ms',
    floorMs: 900,
    limitMs: 3000,
    run: () => gracefulExit({ GRACEFUL_TIMEOUT: '1000' }, hungRequest),
  },
  {
    name: 'reporter: 2000 output lines to a closed pipe (SSH gone)',
    target: '< 5000 ms',
    limitMs: 5000,
    run: async () => {
      const child = spawn('true', { stdio: ['pipe', 'ignore', 'ignore'] });
      await new Promise((resolve) => child.once('exit', resolve));
      const reporter = new Reporter({ color: false, stream: child.stdin!, errorStream: child.stdin!, tee: () => undefined });
      return timed(async () => {
        for (let index = 0; index < 2000; index++) await reporter.output('build', `line ${index} ${'x'.repeat(200)}`);
      });
    },
  },
];

console.log(`| bounded wait | median | worst | target | met |\n|---|---|---|---|---|`);
for (const entry of cases) {
  const figures: number[] = [];
  for (let run = 0; run < RUNS; run++) figures.push(await entry.run());
  figures.sort((a, b) => a - b);
  const median = figures[Math.floor(figures.length / 2)];
  const worst = figures.at(-1)!;
  const met = worst < entry.limitMs && (entry.floorMs === undefined || figures[0] >= entry.floorMs);
  console.log(`| ${entry.name} | ${median.toFixed(0)} ms | ${worst.toFixed(0)} ms | ${entry.target} | ${met ? 'yes' : 'NO'} |`);
}
