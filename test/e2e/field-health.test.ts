import { execa } from 'execa';
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { openConnections } from '../../lib/slot/connections.ts';
import { probe } from '../../lib/slot/health.ts';
import { waitFor } from '../../harness/wait.ts';

const STREAMING = new URL('../fixtures/apps/streaming-health.js', import.meta.url).pathname;

/** A /health that answers 200 and then streams a byte every 300 ms, forever. */
describe('probe against a health route that never ends', () => {
  let server: http.Server;
  let url: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 300);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  // How soon after its deadline it gives up is a figure of npm run bench:bounds; here, that it does.
  it('gives up at its overall deadline although bytes keep coming', async () => {
    const result = await probe(url, 1000);
    expect(result).toEqual({ ok: false, error: 'no complete answer within 1000ms' });
  }, 10_000);

  it('stops at once when its signal aborts', async () => {
    const controller = new AbortController();
    // Aborted once the probe is under way: the server has its request.
    server.once('request', () => controller.abort());
    // Its own 30 s deadline would answer 'no complete answer within 30000ms': 'aborted' is the signal's doing.
    const result = await probe(url, 30_000, { signal: controller.signal });
    expect(result).toEqual({ ok: false, error: 'aborted' });
    expect(await probe(url, 100, { signal: controller.signal })).toEqual({ ok: false, error: 'aborted' });
  });
});

describe('deploy and status with an app whose health route streams forever', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: { HEALTH_TIMEOUT: '4s', STOP_TIMEOUT: '3s' } });
    host.example.commit('v2-streaming', (repo) => copyFileSync(STREAMING, path.join(repo, 'server.js')));
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('the deploy fails its health check at HEALTH_TIMEOUT and releases the lock; v1 keeps serving', async () => {
    // 4 s of health checks plus install, build, start and stop, within the test's bound; the figure is npm run bench:bounds's.
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(1);
    expect(result.stderr).toMatch(/slot b failed its health check: .*did not answer 2xx within 4\.0s \(last: no complete answer within \d+ms\)/);
    expect(existsSync(path.join(host.deployRoot, 'deploy.lock'))).toBe(false);
    expect((await host.get('/')).json.version).toBe('v1');
  }, 90_000);

  it('SIGTERM during that health wait stops the deploy at once (exit 130)', async () => {
    const child = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', HEALTH_TIMEOUT: '10m' }, reject: false, all: true });
    let output = '';
    child.all?.on('data', (chunk) => (output += chunk));
    await waitFor('the new slot to start', () => /ok start/.test(output), { output: () => output });
    // The deploy is in its health wait once a probe is open on slot b (the app never ends that answer).
    await waitFor('a health probe open on slot b', () => openConnections({ kind: 'port', port: host.ports.b, index: 0 }, 'any') > 0, { output: () => output });
    // HEALTH_TIMEOUT is 10 minutes: an exit within the test's bound is the signal's doing.
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, result.all).toBe(130);
    expect((await host.get('/')).json.version).toBe('v1');
  }, 90_000);

  it('status answers within a bounded time while such an app runs', async () => {
    const appDir = path.join(host.dir, 'streaming-app');
    mkdirSync(appDir, { recursive: true });
    cpSync(host.example.repo, appDir, { recursive: true, filter: (source) => path.basename(source) !== '.git' });
    copyFileSync(STREAMING, path.join(appDir, 'server.js'));
    const started = await host.run(['start', 'exampleapp-b', appDir, String(host.ports.b)]);
    expect(started.exitCode, started.output).toBe(0);
    try {
      // Two probes of at most 2 s each, plus node's start-up: it answers, within the test's bound, although the health route never ends.
      const status = await host.run(['status', '--json']);
      expect(status.exitCode, status.output).toBe(0);
      const report = JSON.parse(status.stdout);
      expect(report.slots.b.pid).toBeGreaterThan(0);
      expect(report.slots.b.healthy).toBe(false);
    } finally {
      const stopped = await host.run(['stop', 'exampleapp-b']);
      expect(stopped.exitCode, stopped.output).toBe(0);
    }
  }, 90_000);
});
