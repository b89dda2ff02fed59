import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { createLongLivedRepo, longLivedEnv, openSse, openWebSocket, until, type LongLivedRepo } from '../../harness/long-lived.ts';

/**
 * Long-lived connections across deploy, rollback and the bake window, nginx as root, the default
 * paths: a deploy never waits for them, they stay on the slot where they began until it retires,
 * and the watcher retires it in the background (LONG_LIVED_TIMEOUT), where the drain helper closes
 * each WebSocket with 1001 and ends each SSE stream; an app with no handler has them cut.
 */
const BUDGET = '4s';

async function longLivedHost(app: LongLivedRepo, graceful: boolean): Promise<TestHost> {
  const host = await createTestHost({ env: longLivedEnv(app.repo, { LONG_LIVED_TIMEOUT: BUDGET }) });
  if (graceful) {
    const set = await host.run(['env', 'set', 'GRACEFUL=1']);
    expect(set.exitCode, set.output).toBe(0);
  }
  const first = await host.run(['deploy']);
  expect(first.exitCode, first.output).toBe(0);
  return host;
}

const noWaitForStreams = (output: string) => {
  expect(output).not.toMatch(/STOP_TIMEOUT/);
  expect(output).not.toMatch(/still open after/);
};

describe('long-lived connections with the drain helper', () => {
  let app: LongLivedRepo;
  let host: TestHost;
  const ws = (pathname = '/ws') => openWebSocket(app.require, `ws://127.0.0.1:${host.nginx.port}${pathname}`);
  const sse = () => openSse(`http://127.0.0.1:${host.nginx.port}/events`);

  beforeAll(async () => {
    app = createLongLivedRepo('longlived-retire-app-');
    host = await longLivedHost(app, true);
  }, 180_000);
  afterAll(async () => {
    await host?.cleanUp();
    app?.cleanUp();
  }, 60_000);

  it('BAKE_TIME=0: the deploy returns with a WebSocket and an SSE stream open; the watcher retires the old slot, whose helper closes them with 1001 and ends the stream', async () => {
    const socket = await ws();
    const stream = await sse();
    expect(socket.messages[0].hello).toMatchObject({ version: 'v1', slot: 'a' });
    app.commit('v2');
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    noWaitForStreams(deployed.output);
    expect(deployed.stdout).toMatch(/^ok drain .*slot a is retired in the background: its 2 long-lived connection\(s\) may stay up to LONG_LIVED_TIMEOUT \(4\.0s\); watcher pid \d+/m);
    // Still on v1, slot a, after the command returned; new connections go to v2.
    expect(socket.closed).toBeUndefined();
    expect(await socket.send('after the deploy')).toMatchObject({ version: 'v1', slot: 'a' });
    expect((await ws()).messages[0].hello).toMatchObject({ version: 'v2', slot: 'b' });
    expect((await host.get('/')).json).toMatchObject({ version: 'v2', slot: 'b' });
    const status = await host.run(['status']);
    expect(status.stdout).toMatch(/retiring slot a .*watcher pid \d+/);
    expect(status.stdout).toMatch(/retire: slot a holds 2 long-lived connection\(s\)/);

    await until('the old slot to close the WebSocket', () => socket.closed !== undefined, 60_000);
    expect(socket.closed?.code).toBe(1001);
    await until('the SSE stream to end', () => stream.ended || stream.error !== undefined, 30_000);
    expect([stream.ended, stream.error]).toEqual([true, undefined]);
    await until('the old slot to stop', () => host.state().slots.a.pid === null && !host.state().bake, 60_000);
    const log = await host.run(['history', '--show', 'last']);
    expect(log.stdout).toMatch(/bake-watch: retire: slot a holds 2 long-lived connection\(s\)/);
    expect(log.stdout).toMatch(/bake-watch: retire: 2 long-lived connection\(s\) still open to slot a after LONG_LIVED_TIMEOUT \(4\.0s\): SIGTERM closes them now/);
    expect(log.stdout).toMatch(/bake-watch: ok drain .*slot a exited .* after SIGTERM with 2 long-lived connection\(s\) open at SIGTERM/);
    const appLog = readFileSync(path.join(host.deployRoot, 'run', 'exampleapp-a.log'), 'utf8');
    expect(appLog).toMatch(/\[graceful\] SIGTERM: draining, .*\(1 WebSocket\(s\) closed with 1001, 0 other upgrade\(s\) and 1 SSE stream\(s\) ended\)/);
  }, 180_000);

  it('a WebSocket and an SSE stream stay on their slot through a deploy with a bake window and a rollback inside it', async () => {
    const onB = await ws();
    const streamB = await sse();
    expect(onB.messages[0].hello).toMatchObject({ slot: 'b', version: 'v2' });
    app.commit('v3');
    const deployed = await host.run(['deploy'], { BAKE_TIME: '60s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    noWaitForStreams(deployed.output);
    const onA = await ws();
    expect(onA.messages[0].hello).toMatchObject({ slot: 'a', version: 'v3' });
    expect(await onB.send('in the window')).toMatchObject({ slot: 'b', version: 'v2' });
    const seen = streamB.events;
    await until('more SSE events from the warm slot', () => streamB.events > seen, 10_000);

    // Back to the warm slot b: a switch only; slot a (with onA) is retired in the background.
    const rolled = await host.run(['rollback'], { BAKE_TIME: '60s' });
    expect(rolled.exitCode, rolled.output).toBe(0);
    noWaitForStreams(rolled.output);
    expect(onB.closed).toBeUndefined();
    expect(await onB.send('after the rollback')).toMatchObject({ slot: 'b', version: 'v2' });
    expect(streamB.error).toBeUndefined();
    expect((await ws()).messages[0].hello).toMatchObject({ slot: 'b', version: 'v2' });
    await until('slot a to close its WebSocket', () => onA.closed !== undefined, 60_000);
    expect(onA.closed?.code).toBe(1001);
    expect(onB.closed).toBeUndefined();
    expect([streamB.ended, streamB.error]).toEqual([false, undefined]);
    onB.close();
    streamB.close();
  }, 180_000);
});

describe('long-lived connections of an app with no SIGTERM handler', () => {
  let app: LongLivedRepo;
  let host: TestHost;

  beforeAll(async () => {
    app = createLongLivedRepo('longlived-nohandler-app-');
    host = await longLivedHost(app, false);
  }, 180_000);
  afterAll(async () => {
    await host?.cleanUp();
    app?.cleanUp();
  }, 60_000);

  it('loses only its long-lived connections, cut at the end of the budget, while the deploy returned at once', async () => {
    const socket = await openWebSocket(app.require, `ws://127.0.0.1:${host.nginx.port}/ws`);
    app.commit('v2');
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    noWaitForStreams(deployed.output);
    expect(socket.closed).toBeUndefined();
    expect(await socket.send('still here')).toMatchObject({ version: 'v1' });
    expect((await host.get('/')).json).toMatchObject({ version: 'v2' });
    await until('the cut', () => socket.closed !== undefined, 60_000);
    expect(socket.closed?.code).toBe(1006);
    await until('the old slot to stop', () => !host.state().bake, 60_000);
    const log = await host.run(['history', '--show', 'last']);
    expect(log.output).toMatch(/bake-watch: ok drain .*slot a exited .* after SIGTERM with 1 long-lived connection\(s\) open at SIGTERM/);
  }, 180_000);
});
