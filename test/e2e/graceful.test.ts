// Real processes, real sockets: spawn test/fixtures/graceful-server.mjs, hold keep-alive
// connections to it with node:http Agents, SIGTERM it and watch what clients see. Then the same
// through the npm package (packed, installed, required and imported) and the example app template.
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/ports.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/graceful-server.mjs', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('../../graceful', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('../../templates/example-app', import.meta.url));
const TSC = fileURLToPath(new URL('../../node_modules/.bin/tsc', import.meta.url));
const TYPE_ROOTS = fileURLToPath(new URL('../../node_modules/@types', import.meta.url));
const HOST = '127.0.0.1';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Fixture {
  child: ChildProcess;
  port: number;
  exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Resolves once `re` matches the accumulated output of that stream. */
  waitForLine(stream: 'stdout' | 'stderr', re: RegExp, ms?: number): Promise<void>;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reusedSocket: boolean;
  socket: Socket;
}

const children: ChildProcess[] = [];
const agents: http.Agent[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
    }
  }
  for (const agent of agents.splice(0)) agent.destroy();
});

/** Starts `script` (default: the fixture) and waits until `listening` (group 1: the port) appears on its stdout. */
async function start(
  env: Record<string, string> = {},
  { script = FIXTURE, cwd, listening = /listening (\d+)/ }: { script?: string; cwd?: string; listening?: RegExp } = {},
): Promise<Fixture> {
  const child = spawn(process.execPath, [script], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => {
      out[stream] += chunk;
      for (const check of waiters) check();
    });
  }
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const waitForLine = (stream: 'stdout' | 'stderr', re: RegExp, ms = 5000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${re} on ${stream}; got:\n${out[stream]}`));
      }, ms);
      const check = () => {
        if (!re.test(out[stream])) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
      void closed.then(() => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        clearTimeout(timer);
        reject(new Error(`process exited before ${re} appeared on ${stream}; got:\n${out[stream]}`));
      });
    });

  await waitForLine('stdout', listening);
  const port = Number(listening.exec(out.stdout)![1]);
  return { child, port, exited, waitForLine, stdout: () => out.stdout, stderr: () => out.stderr };
}

function keepAliveAgent(maxSockets: number): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  agents.push(agent);
  return agent;
}

function request(
  port: number,
  path: string,
  opts: { agent?: http.Agent | false; method?: string; body?: string } = {},
): Promise<Reply> {
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = http.request({ host: HOST, port, path, method: opts.method ?? 'GET', agent: opts.agent ?? false }, (res) => {
      const socket = res.socket as Socket; // detached from res once a keep-alive response ends
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body, reusedSocket: req.reusedSocket, socket }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
  // Callers still see the rejection; this only keeps a request cut off by afterEach's
  // SIGKILL (after an earlier assertion failed) from surfacing as an unhandled rejection.
  reply.catch(() => {});
  return reply;
}

/** Opens `n` keep-alive sockets on `agent` and leaves them idle in its pool. */
async function openIdleSockets(port: number, agent: http.Agent, n: number): Promise<Socket[]> {
  const replies = await Promise.all(Array.from({ length: n }, () => request(port, '/', { agent })));
  for (const r of replies) expect(r.status).toBe(200);
  const sockets = [...new Set(replies.map((r) => r.socket))];
  expect(sockets).toHaveLength(n);
  await new Promise((r) => setImmediate(r)); // let the agent move them to its free pool
  expect(Object.values(agent.freeSockets).flat()).toHaveLength(n);
  return sockets;
}

describe('graceful()', { timeout: 15_000 }, () => {
  it('exits 0 shortly after idleClose when only idle keep-alive sockets remain', async () => {
    const app = await start({ GRACEFUL_IDLE_CLOSE: '600' });
    await openIdleSockets(app.port, keepAliveAgent(3), 3);

    app.child.kill('SIGTERM');
    // Within the describe's 15 s bound, so not after keepAliveTimeout (65 s); how long after idleClose is npm run bench:bounds's figure.
    const exit = await app.exited;

    expect(exit).toEqual({ code: 0, signal: null });
    expect(app.stderr()).toMatch(/SIGTERM: draining, 3 connection\(s\) open/);
    expect(app.stderr()).toMatch(/drained in \d+ms/);
  });

  it('completes a slow request in flight at SIGTERM with Connection: close', async () => {
    const app = await start();
    const agent = keepAliveAgent(1);
    const slow = request(app.port, '/slow?ms=800', { agent });
    await app.waitForLine('stdout', /req GET \/slow/);

    app.child.kill('SIGTERM');
    const reply = await slow;

    expect(reply.status).toBe(200);
    expect(reply.body).toBe('slow done');
    expect(reply.headers.connection).toBe('close'); // the handler asked for keep-alive; drain wins
    expect(reply.headers['x-slow']).toBe('1');
    expect(reply.headers['content-type']).toBe('text/plain');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stdout()).toMatch(/onShutdown ran/);
  });

  it('answers a request sent on an already-open keep-alive socket during the drain', async () => {
    const app = await start({ GRACEFUL_IDLE_CLOSE: '3000' });
    const agent = keepAliveAgent(2);
    const before = await openIdleSockets(app.port, agent, 2);
    const slow = request(app.port, '/slow?ms=1500', { agent }); // takes one socket, keeps the process alive
    await app.waitForLine('stdout', /req GET \/slow/);

    app.child.kill('SIGTERM');
    await app.waitForLine('stderr', /draining/);
    const reply = await request(app.port, '/', { agent }); // goes out on the other idle socket

    expect(reply.reusedSocket).toBe(true);
    expect(before).toContain(reply.socket);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('fast');
    expect(reply.headers.connection).toBe('close');
    expect((await slow).headers.connection).toBe('close');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses new connections after SIGTERM', async () => {
    const app = await start();
    const slow = request(app.port, '/slow?ms=1000', { agent: keepAliveAgent(1) });
    await app.waitForLine('stdout', /req GET \/slow/);

    app.child.kill('SIGTERM');
    await app.waitForLine('stderr', /draining/);
    await expect(request(app.port, '/')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    expect((await slow).status).toBe(200);
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('lets a POST whose body is still arriving at SIGTERM succeed', async () => {
    const app = await start();
    const payload = { hello: 'world', n: [1, 2, 3] };
    const text = JSON.stringify(payload);
    const agent = keepAliveAgent(1);

    const reply = new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        { host: HOST, port: app.port, path: '/echo', method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, reusedSocket: req.reusedSocket, socket: res.socket as Socket }));
        },
      );
      req.on('error', reject);
      req.write(text.slice(0, 5));
      void app
        .waitForLine('stdout', /req POST \/echo/)
        .then(() => {
          app.child.kill('SIGTERM');
          return app.waitForLine('stderr', /draining/);
        })
        .then(() => req.end(text.slice(5)), reject);
    });

    const r = await reply;
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ echo: payload });
    expect(r.headers.connection).toBe('close');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('forces exit with code 1 after timeout when a handler never finishes', async () => {
    const app = await start({ GRACEFUL_TIMEOUT: '1000' });
    const hung = request(app.port, '/hang').catch((err: NodeJS.ErrnoException) => err);
    await app.waitForLine('stdout', /req GET \/hang/);

    app.child.kill('SIGTERM');
    const exit = await app.exited;

    expect(exit).toEqual({ code: 1, signal: null });
    expect(app.stderr()).toMatch(/forced exit after 1000ms: 1 connection\(s\) still open/);
    expect(await hung).toMatchObject({ code: 'ECONNRESET' });
  });

  it('answers healthPath with 503 draining during the drain', async () => {
    const app = await start({ GRACEFUL_IDLE_CLOSE: '3000' });
    const agent = keepAliveAgent(2);
    await openIdleSockets(app.port, agent, 2);
    const healthy = await request(app.port, '/health', { agent });
    expect(healthy.status).toBe(200);
    expect(healthy.body).toBe('ok');

    const slow = request(app.port, '/slow?ms=1500', { agent });
    await app.waitForLine('stdout', /req GET \/slow/);
    app.child.kill('SIGTERM');
    await app.waitForLine('stderr', /draining/);
    const draining = await request(app.port, '/health?probe=1', { agent });

    expect(draining.status).toBe(503);
    expect(draining.body).toBe('draining');
    expect(draining.headers.connection).toBe('close');
    expect(app.stdout()).not.toMatch(/req GET \/health\?probe=1/); // the app handler was not called too
    expect((await slow).status).toBe(200);
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('ignores a second SIGTERM while draining instead of dying early', async () => {
    const app = await start();
    const slow = request(app.port, '/slow?ms=1000', { agent: keepAliveAgent(1) });
    await app.waitForLine('stdout', /req GET \/slow/);

    app.child.kill('SIGTERM');
    await app.waitForLine('stderr', /draining/);
    app.child.kill('SIGTERM');
    await app.waitForLine('stderr', /drain already in progress/);

    expect((await slow).status).toBe(200);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr().match(/draining,/g)).toHaveLength(1);
  });

  it('accepts a { server } object (Fastify-like)', async () => {
    const app = await start({ GRACEFUL_FORM: 'object', GRACEFUL_IDLE_CLOSE: '600' });
    const agent = keepAliveAgent(2);
    await openIdleSockets(app.port, agent, 1);
    const slow = request(app.port, '/slow?ms=500', { agent: keepAliveAgent(1) });
    await app.waitForLine('stdout', /req GET \/slow/);

    app.child.kill('SIGTERM');
    const reply = await slow;

    expect(reply.status).toBe(200);
    expect(reply.headers.connection).toBe('close');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });
});

/** SIGTERM with a request in flight: it gets its 200 with `Connection: close`, then the process exits 0. */
async function expectDrainsInFlight(app: Fixture): Promise<void> {
  const slow = request(app.port, '/slow?ms=800', { agent: keepAliveAgent(1) });
  await app.waitForLine('stdout', /req GET \/slow/);
  app.child.kill('SIGTERM');
  const reply = await slow;
  expect(reply.status).toBe(200);
  expect(reply.body).toBe('slow done');
  expect(reply.headers.connection).toBe('close');
  expect(await app.exited).toEqual({ code: 0, signal: null });
  expect(app.stderr()).toMatch(/\[graceful\] SIGTERM: draining, 1 connection\(s\) open/);
}

// Apps outside the repo that only know the package by name, as a user's app would.
const SLOW_HANDLER = `(req, res) => {
  process.stdout.write('req ' + req.method + ' ' + req.url + '\\n');
  const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms')) || 0;
  setTimeout(() => res.end('slow done'), ms);
}`;
const CJS_APP = `const http = require('node:http');
const { graceful } = require('switchyard-graceful');
process.stdout.write('resolved ' + require.resolve('switchyard-graceful') + '\\n');
const server = http.createServer(${SLOW_HANDLER});
graceful(server, { healthPath: '/health' });
server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
`;
const ESM_APP = `import http from 'node:http';
import { createRequire } from 'node:module';
import { graceful } from 'switchyard-graceful';
const required = createRequire(import.meta.url)('switchyard-graceful');
process.stdout.write('resolved ' + import.meta.resolve('switchyard-graceful') + '\\n');
process.stdout.write('one implementation ' + (required.graceful === graceful) + '\\n');
const server = http.createServer(${SLOW_HANDLER});
graceful({ server }, { healthPath: '/health' });
server.listen(0, '127.0.0.1', () => process.stdout.write('listening ' + server.address().port + '\\n'));
`;
// Every line must type-check, and each @ts-expect-error must find an error: types that resolve to `any` fail.
const TYPES_ESM = `import http from 'node:http';
import { graceful, type GracefulController, type GracefulOptions } from 'switchyard-graceful';
const options: GracefulOptions = { healthPath: '/health', timeout: 1000, signals: ['SIGTERM'] };
const controller: GracefulController = graceful(http.createServer(), options);
export const draining: boolean = controller.draining;
export const done: Promise<void> = controller.shutdown('test');
graceful({ server: http.createServer() });
// @ts-expect-error not a server
graceful(42);
// @ts-expect-error misspelt option
graceful(http.createServer(), { timout: 1 });
`;
const TYPES_CJS = `import http = require('node:http');
import pkg = require('switchyard-graceful');
const controller: pkg.GracefulController = pkg.graceful(http.createServer(), { idleClose: 100 });
// @ts-expect-error wrong option type
pkg.graceful(http.createServer(), { idleClose: 'soon' });
export = controller.draining;
`;

/** The environment without npm's own variables, so `npm test`'s settings don't leak into the nested npm. */
const npmEnv = () => Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

describe('the switchyard-graceful package, packed and installed', { timeout: 20_000 }, () => {
  let dir = '';
  let app = '';
  let packed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-graceful-pkg-'));
    const pack = await execa('npm', ['pack', '--json', '--pack-destination', dir], { cwd: PACKAGE_DIR, env: npmEnv(), extendEnv: false, timeout: 60_000 });
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    packed = info.files.map((f) => f.path).sort();
    app = path.join(dir, 'app');
    mkdirSync(app);
    const tarball = path.join(dir, info.filename);
    await execa('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, env: npmEnv(), extendEnv: false, timeout: 60_000 });
    writeFileSync(path.join(app, 'app.cjs'), CJS_APP);
    writeFileSync(path.join(app, 'app.mjs'), ESM_APP);
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs its entry points, types and README, nothing else', () => {
    expect(packed).toEqual(['README.md', 'graceful.cjs', 'graceful.d.cts', 'index.d.ts', 'index.js', 'package.json']);
  });

  it('drains a CommonJS app (require) on SIGTERM with a request in flight', async () => {
    const server = await start({}, { script: path.join(app, 'app.cjs'), cwd: app });
    expect(server.stdout()).toContain(`resolved ${path.join(app, 'node_modules', 'switchyard-graceful', 'graceful.cjs')}\n`);
    await expectDrainsInFlight(server);
  });

  it('drains an ESM app (import) on SIGTERM with a request in flight, sharing the one implementation', async () => {
    const server = await start({}, { script: path.join(app, 'app.mjs'), cwd: app });
    expect(server.stdout()).toMatch(/resolved file:\/\/.*\/node_modules\/switchyard-graceful\/index\.js\n/);
    expect(server.stdout()).toContain('one implementation true\n');
    await expectDrainsInFlight(server);
  });

  it('resolves its types from ESM and CommonJS TypeScript under module nodenext', async () => {
    const types = path.join(app, 'types');
    mkdirSync(types);
    writeFileSync(path.join(types, 'esm.mts'), TYPES_ESM);
    writeFileSync(path.join(types, 'cjs.cts'), TYPES_CJS);
    // skipLibCheck off: the package's own .d.ts/.d.cts must compile too, as in a strict user project.
    const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [TYPE_ROOTS] };
    writeFileSync(path.join(types, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['esm.mts', 'cjs.cts'] }));

    const tsc = await execa(TSC, ['-p', types, '--listFiles'], { cwd: types, reject: false, timeout: 60_000 });

    expect(tsc.exitCode, tsc.stdout + tsc.stderr).toBe(0);
    const installed = path.join(app, 'node_modules', 'switchyard-graceful');
    expect(tsc.stdout).toContain(path.join(installed, 'index.d.ts')); // import
    expect(tsc.stdout).toContain(path.join(installed, 'graceful.d.cts')); // require
  }, 60_000);
});

describe('templates/example-app copied alone', { timeout: 15_000 }, () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts with PORT set, answers /health, drains on SIGTERM and exits 0', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-example-app-'));
    cpSync(TEMPLATE, dir, { recursive: true });
    expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
    const port = await freePort();
    const app = await start(
      { PORT: String(port), HOST, SWITCHYARD_SLOT: 'a' },
      { script: 'server.js', cwd: dir, listening: /listening on 127\.0\.0\.1:(\d+)/ },
    );
    expect(app.port).toBe(port);
    const health = await request(port, '/health');
    expect([health.status, health.body]).toEqual([200, 'ok']);
    expect(JSON.parse((await request(port, '/')).body)).toEqual({ version: 'v1', slot: 'a', pid: app.child.pid });

    const agent = keepAliveAgent(2);
    await openIdleSockets(port, agent, 2);
    // On one pooled socket: answered even if it only arrives after the signal (the app logs no requests).
    const slow = request(port, '/slow?ms=1000', { agent });
    await new Promise((r) => setTimeout(r, 100));
    app.child.kill('SIGTERM');
    await app.waitForLine('stderr', /SIGTERM: draining/);
    const draining = await request(port, '/health', { agent }); // on the other pooled socket

    expect(draining.reusedSocket).toBe(true);
    expect([draining.status, draining.body, draining.headers.connection]).toEqual([503, 'draining', 'close']);
    const reply = await slow;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ version: 'v1' });
    expect(reply.headers.connection).toBe('close');
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });

  it('also drains on SIGINT (what pm2 sends)', async () => {
    dir ||= mkdtempSync(path.join(os.tmpdir(), 'switchyard-example-app-'));
    if (!existsSync(path.join(dir, 'server.js'))) cpSync(TEMPLATE, dir, { recursive: true });
    const port = await freePort();
    const app = await start({ PORT: String(port), HOST }, { script: 'server.js', cwd: dir, listening: /listening on 127\.0\.0\.1:(\d+)/ });
    expect((await request(port, '/health')).status).toBe(200);
    app.child.kill('SIGINT');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr()).toMatch(/SIGINT: draining/);
  });
});
