import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { isGroupAlive, signalProcess } from '../../lib/host/process.ts';
import { loadAnswered, waitFor } from '../../harness/wait.ts';
import { fixtureApp } from '../support/fixture-app.ts';

/**
 * The bake window (BAKE_TIME): the previous slot stays warm after a deploy, a rollback inside the
 * window is a switch only, a detached watcher drains and stops the old slot when it ends, and rolls
 * back by itself when the new slot fails its health checks. Apps with no SIGTERM handler, under load.
 */
const noHandlerApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;
const useNoHandlerApp = (dir: string) => copyFileSync(noHandlerApp, path.join(dir, 'server.js'));
const LOAD_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

describe('the bake window', () => {
  let host: TestHost;
  const hookOutput = () => path.join(host.dir, 'failed-hook.txt');

  beforeAll(async () => {
    host = await createTestHost();
    const hooks = path.join(host.dir, 'deploy', 'hooks');
    mkdirSync(hooks, { recursive: true, mode: 0o755 });
    writeFileSync(path.join(hooks, 'failed'), `#!/bin/sh\necho "$SWITCHYARD_COMMAND $SWITCHYARD_AUTOMATIC $SWITCHYARD_REASON" >> ${hookOutput()}\n`, { mode: 0o755 });
    chmodSync(path.join(hooks, 'failed'), 0o755);
    // The bake window on for every command here (the harness turns it off for the other suites).
    host.writeEnv({ HOOKS_DIR: hooks, BAKE_TIME: '60s' });
    host.example.commit('v1', useNoHandlerApp);
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  /** The window's watcher logs to bake.log: a wait that times out shows its end. */
  const bakeLog = () => {
    const log = path.join(host.deployRoot, 'run', 'bake.log');
    return existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(no bake.log)';
  };

  function expectNoFailure(records: RequestRecord[]) {
    expect(failures(records), summarizeFailures(records)).toEqual([]);
  }

  it('keeps the previous slot warm after a deploy; a rollback inside the window only switches; then the old slot is drained and stopped', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, mix: LOAD_MIX, maxDurationMs: 90_000 });
    await loadAnswered(load);
    host.example.commit('v2', useNoHandlerApp);
    const deployed = await host.run(['deploy'], { BAKE_TIME: '60s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect(deployed.stdout).toMatch(/slot a \([0-9a-f]{7}\) stays warm for an instant rollback until .*BAKE_TIME 1m0s; auto rollback on; watcher pid \d+/);
    expect(deployed.stdout).not.toMatch(/^ok drain /m);
    const warmPid = host.state().slots.a.pid;
    expect(isGroupAlive(warmPid)).toBe(true);
    const status = await host.run(['status']);
    expect(status.stdout).toMatch(/bake window: slot a \([0-9a-f]{7}\) stays warm for an instant rollback until .*; watcher pid \d+/);

    const rolledBack = await host.run(['rollback']);
    expect(rolledBack.exitCode, rolledBack.output).toBe(0);
    expect(rolledBack.stdout).toMatch(/slot a still runs [0-9a-f]{7} \(bake window\): nothing to start/);
    expect(rolledBack.stdout).not.toMatch(/^ok (start|health) /m);
    expect(rolledBack.stdout).toMatch(/slot b \([0-9a-f]{7}\) is drained and stopped in the background/);
    expect(host.state().slots.a.pid).toBe(warmPid);
    expect((await host.get('/')).json.version).toBe('v1');
    await waitFor('slot b to be drained and stopped', () => host.state().bake === null && host.state().slots.b.pid === null, { timeoutMs: 30_000, output: bakeLog });
    await loadAnswered(load, Date.now());
    expectNoFailure(await load.stop());
    expect(readFileSync(path.join(host.deployRoot, 'run', 'bake.log'), 'utf8')).toMatch(/drain +\d+ connection\(s\) from nginx to slot b closed in/);
    // The slot the watcher stopped is b, the one rolled back from: not "the bake window of slot a".
    expect(readFileSync(path.join(host.deployRoot, 'run', 'bake.log'), 'utf8')).toMatch(/slot b is no longer kept warm \(slot a is live\); /);
    expect(readFileSync(path.join(host.deployRoot, 'run', 'bake.log'), 'utf8')).not.toMatch(/bake window of slot a ended/);
  }, 120_000);

  it('a deploy right after a rollback waits for the watcher stopping the old slot instead of failing', async () => {
    host.example.commit('v2b', useNoHandlerApp);
    expect((await host.run(['deploy'])).exitCode).toBe(0);
    const rolledBack = await host.run(['rollback']);
    expect(rolledBack.exitCode, rolledBack.output).toBe(0);
    host.example.commit('v2c', useNoHandlerApp);
    const next = await host.run(['deploy']);
    expect(next.exitCode, next.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('v2c');
  }, 120_000);

  it('when the window ends, the watcher drains the old slot at the proxy and stops it', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, mix: LOAD_MIX, maxDurationMs: 90_000 });
    host.example.commit('v3', useNoHandlerApp);
    const before = host.state();
    const oldPid = before.slots[before.live].pid;
    const deployed = await host.run(['deploy'], { BAKE_TIME: '3s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect(isGroupAlive(oldPid)).toBe(true);
    await waitFor('the window to end', () => host.state().bake === null, { timeoutMs: 30_000, output: bakeLog });
    expect(isGroupAlive(oldPid)).toBe(false);
    expect(host.state().slots[before.live].pid).toBeNull();
    await loadAnswered(load, Date.now());
    expectNoFailure(await load.stop());
    expect((await host.get('/')).json.version).toBe('v3');
  }, 120_000);

  it('rolls back by itself when the new slot fails its health checks in the window, under load with no failed request', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, mix: LOAD_MIX, maxDurationMs: 90_000 });
    // Sick when the test says so, once the deploy has returned: not after a time a busy host may not keep.
    const turnSick = path.join(host.dir, 'turn-sick');
    const sick = host.example.commit('v4-sick', fixtureApp({ sickWhen: turnSick }));
    const deployed = await host.run(['deploy'], { BAKE_TIME: '60s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    writeFileSync(turnSick, '');
    await waitFor('the automatic rollback', () => host.state().history.at(-1)?.automatic === true, { timeoutMs: 30_000, output: bakeLog });
    await waitFor('the sick slot to be stopped', () => host.state().bake === null, { timeoutMs: 30_000, output: bakeLog });
    await loadAnswered(load, Date.now());
    expectNoFailure(await load.stop());
    expect((await host.get('/')).json.version).toBe('v3');
    const last = host.state().history.at(-1);
    expect(last).toMatchObject({ command: 'rollback', outcome: 'success', automatic: true });
    expect(last.reason).toMatch(/failed 3 health checks in a row during the bake window/);
    await waitFor('the failed hook', () => existsSync(hookOutput()), { timeoutMs: 30_000, output: bakeLog });
    expect(readFileSync(hookOutput(), 'utf8')).toMatch(/^rollback 1 slot [ab] failed 3 health checks in a row/m);
    const status = await host.run(['status']);
    expect(status.stdout).toMatch(/last: AUTOMATIC rollback to [0-9a-f]{7} on slot [ab] at .*, from [0-9a-f]{7}: slot [ab] failed 3 health checks in a row during the bake window/);
    // A plain rollback never goes back to the release that was rolled back from.
    const listed = JSON.parse((await host.run(['releases', '--json'])).stdout);
    expect(listed.find((release: any) => release.rollbackTarget)?.commit).not.toBe(sick);
    expect(listed.find((release: any) => release.commit === sick)?.outcomes).toEqual(['deploy success']);
  }, 120_000);

  it('a watcher killed at the end of the window, as it drains: the next deploy stops the warm slot, under load with no failure', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, mix: LOAD_MIX, maxDurationMs: 90_000 });
    host.example.commit('v4b', useNoHandlerApp);
    const deployed = await host.run(['deploy'], { BAKE_TIME: '2s', SWITCHYARD_TEST_FAULT: 'kill@bake-end' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    const { bake, slots } = host.state();
    const warmPid = slots[bake.previous].pid;
    await waitFor('the watcher to be killed at the end of the window', () => !existsSync(`/proc/${bake.watcherPid}`) || readFileSync(`/proc/${bake.watcherPid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z'), { timeoutMs: 30_000, output: bakeLog });
    expect(host.state().bake).toMatchObject({ previous: bake.previous });
    expect(isGroupAlive(warmPid)).toBe(true);
    host.example.commit('v4c', useNoHandlerApp);
    const next = await host.run(['deploy'], { BAKE_TIME: '0' });
    expect(next.exitCode, next.output).toBe(0);
    expect(next.stderr).toMatch(/lost its watcher/);
    expect(isGroupAlive(warmPid)).toBe(false);
    await loadAnswered(load, Date.now());
    expectNoFailure(await load.stop());
    expect((await host.get('/')).json.version).toBe('v4c');
  }, 120_000);

  it('a watcher killed mid-window: status says so, and the next deploy stops the warm slot and goes on', async () => {
    host.example.commit('v5', useNoHandlerApp);
    const deployed = await host.run(['deploy'], { BAKE_TIME: '5m' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    const { bake, slots } = host.state();
    const warmPid = slots[bake.previous].pid;
    expect(signalProcess(bake.watcherPid, 'SIGKILL')).toBe(true);
    await waitFor('the watcher to die', () => !existsSync(`/proc/${bake.watcherPid}`) || readFileSync(`/proc/${bake.watcherPid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z'), { timeoutMs: 30_000, output: bakeLog });
    const status = await host.run(['status']);
    expect(status.output).toMatch(/its watcher is not running/);
    host.example.commit('v6', useNoHandlerApp);
    const next = await host.run(['deploy']);
    expect(next.exitCode, next.output).toBe(0);
    expect(next.stderr).toMatch(/lost its watcher/);
    expect(isGroupAlive(warmPid)).toBe(false);
    expect((await host.get('/')).json.version).toBe('v6');
  }, 120_000);
});
