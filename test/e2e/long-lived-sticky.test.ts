import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { waitFor } from '../../harness/wait.ts';
import type { SwitchKind } from '../../lib/config/config.ts';
import { isAlive } from '../../lib/host/process.ts';
import { fixtureApp } from '../support/fixture-app.ts';

/**
 * Issue 32: the session cookie is anyone's to write, so inside the bake window a forged
 * `switchyard_<app>=<old slot>` reached the old release on any path. It is honoured on
 * NGINX_STICKY_PATHS only (default /socket.io/), where sessions begin; everywhere else a request goes
 * to the live slot, whatever it carries. Real nginx as root, two real deploys, a real bake window.
 */
const useWhereApp = fixtureApp(); // answers any path with its version and slot
const COOKIE = 'switchyard_exampleapp';
const POLL = '/socket.io/?EIO=4&transport=polling';

type Answer = { status: number; slot?: string; version?: string; setCookie: string[] };

/** One request with the path exactly as written (fetch would resolve `..` and `%2e%2e` before sending). */
function rawRequest(port: number, rawPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method, agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        let json: { slot?: string; version?: string } = {};
        try {
          json = JSON.parse(body);
        } catch {
          // not the app's JSON (an nginx error page): slot stays undefined and the assertion says so
        }
        resolve({ status: res.statusCode ?? 0, slot: json.slot, version: json.version, setCookie: res.headers['set-cookie'] ?? [] });
      });
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

const layouts: { name: string; switchKind: SwitchKind }[] = [
  { name: 'nginx-live-file', switchKind: 'nginx-live-file' },
  { name: 'nginx-reload', switchKind: 'nginx-reload' },
];

describe.each(layouts)('the session cookie inside the bake window ($name)', ({ switchKind }) => {
  let host: TestHost;
  let genuine: string;
  const send = (rawPath: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(host.nginx.port, rawPath, headers, method);

  beforeAll(async () => {
    host = await createTestHost({ switchKind, env: { ...APP_WITHOUT_NPM, BAKE_TIME: '300s', AUTO_ROLLBACK: 'off' } });
    host.example.commit('v1', useWhereApp);
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    // A session begins on slot a, on the sticky path, before the deploy.
    const begun = await send(POLL);
    expect(begun).toMatchObject({ status: 200, slot: 'a', version: 'v1' });
    genuine = begun.setCookie.map((line) => line.split(';')[0]).find((pair) => pair.startsWith(`${COOKIE}=`)) ?? '';
    expect(genuine, `Set-Cookie: ${begun.setCookie.join(' | ')}`).toBe(`${COOKIE}=a`);
    host.example.commit('v2', useWhereApp);
    const second = await host.run(['deploy']);
    expect(second.exitCode, second.output).toBe(0);
    expect(host.state().bake).toMatchObject({ previous: 'a', live: 'b' });
  }, 180_000);
  afterAll(async () => {
    const watcher: number | undefined = host?.state().bake?.watcherPid;
    await host?.cleanUp();
    // With its state gone the window's watcher ends on its next look (every second): none outlives the test.
    if (watcher) await waitFor(`the bake watcher (pid ${watcher}) to exit`, () => !isAlive(watcher), { timeoutMs: 30_000 });
  }, 90_000);

  it('a forged cookie naming the warm slot reaches the live slot on every path that is not sticky', async () => {
    const forged = { cookie: `${COOKIE}=a` };
    const cases: { path: string; headers?: Record<string, string>; method?: string }[] = [
      { path: '/' },
      { path: '/admin' },
      { path: '/api/orders?id=1' },
      { path: '/echo', method: 'POST' },
      { path: '/socket.io' },
      { path: '/x/socket.io/' },
      // A sticky prefix that dot segments leave: nginx routes on /admin, and so does an app that resolves them.
      { path: '/socket.io/../admin' },
      { path: '/socket.io/%2e%2e/admin' },
      { path: '/socket.io/..%2Fadmin' },
      // Long-lived requests off the sticky paths: an SSE stream, a long-poll GET.
      { path: '/events', headers: { accept: 'text/event-stream' } },
      { path: '/?transport=polling' },
    ];
    const answers: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (const { path: rawPath, headers, method } of cases) {
        const answer = await send(rawPath, { ...forged, ...headers }, method);
        answers.push(`${method ?? 'GET'} ${rawPath}: ${answer.status} slot ${answer.slot} ${answer.version}`);
      }
    }
    expect(answers.filter((line) => !line.endsWith(': 200 slot b v2'))).toEqual([]);
    expect(answers).toHaveLength(44);
  });

  it('a session begun on a sticky path keeps its warm slot there; a request without the cookie starts on the live slot', async () => {
    for (let round = 0; round < 5; round++) {
      expect(await send(POLL, { cookie: genuine })).toMatchObject({ status: 200, slot: 'a', version: 'v1' });
      expect(await send(`${POLL}&sid=s1`, { cookie: genuine, 'content-type': 'text/plain' }, 'POST')).toMatchObject({ status: 200, slot: 'a', version: 'v1' });
      expect(await send('/socket.io/socket.io.js', { cookie: `other=1; ${genuine}` })).toMatchObject({ status: 200, slot: 'a', version: 'v1' });
      expect(await send(POLL)).toMatchObject({ status: 200, slot: 'b', version: 'v2' });
    }
    // The limit (docs/long-lived.md): on the sticky paths the cookie is not signed, so one written by
    // hand is honoured there too, for the rest of the window.
    expect(await send(POLL, { cookie: `${COOKIE}=a` })).toMatchObject({ slot: 'a', version: 'v1' });
  });
});
