import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { createLongLivedRepo, longLivedEnv, openSse, openWebSocket, type LongLivedRepo } from '../../harness/long-lived.ts';
import { waitFor } from '../../harness/wait.ts';
import type { SwitchKind } from '../../lib/config/config.ts';

/**
 * The site `./deploy.ts nginx-site` prints carries WebSockets and SSE, in both nginx modes and with
 * the slots on unix sockets: real nginx as root, a real app (ws, socket.io), real clients. Plain
 * requests keep their keep-alive connection to the upstream.
 */
const layouts: { name: string; switchKind: SwitchKind; env?: Record<string, string> }[] = [
  { name: 'nginx-live-file', switchKind: 'nginx-live-file' },
  { name: 'nginx-reload', switchKind: 'nginx-reload' },
  { name: 'nginx-live-file with the slots on unix sockets', switchKind: 'nginx-live-file', env: { SLOT_LISTEN: 'socket' } },
];

describe.each(layouts)('the site ($name)', ({ switchKind, env }) => {
  let app: LongLivedRepo;
  let host: TestHost;

  beforeAll(async () => {
    app = createLongLivedRepo('longlived-site-app-');
    host = await createTestHost({ switchKind, env: longLivedEnv(app.repo, env) });
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await host?.cleanUp();
    app?.cleanUp();
  }, 60_000);

  it('upgrades a WebSocket through nginx and exchanges messages both ways', async () => {
    const ws = await openWebSocket(app.require, `ws://127.0.0.1:${host.nginx.port}/ws`);
    expect(ws.messages[0].hello).toMatchObject({ version: 'v1', slot: 'a' });
    for (const text of ['one', 'two', 'three']) expect((await ws.send(text)).echo).toBe(text);
    ws.close();
  });

  it('streams SSE events as the app writes them', async () => {
    const sse = await openSse(`http://127.0.0.1:${host.nginx.port}/events`);
    expect(sse.hello).toMatchObject({ version: 'v1' });
    const seen = sse.events;
    await waitFor('an SSE event after the hello', () => sse.events > seen || sse.ended || sse.error !== undefined, { timeoutMs: 10_000 });
    expect(sse.events).toBeGreaterThan(seen);
    sse.close();
  });

  it('keeps plain requests on keep-alive and answers them as before', async () => {
    const answer = await host.get('/');
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ version: 'v1', slot: 'a' });
    expect(host.nginx.severeErrors()).toEqual([]);
  });
});
