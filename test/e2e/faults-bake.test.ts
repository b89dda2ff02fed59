import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { writeFileAtomic } from '../../lib/host/files.ts';
import { spawnDetached } from '../../lib/host/run.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { loadAnswered, waitFor } from '../../harness/wait.ts';
import { isAlive, isGroupAlive, signalProcess } from '../../lib/host/process.ts';

/**
 * The bake window's watcher stopped by an operator's SIGTERM (lib/cycle/bake.ts): it exits at once and
 * changes nothing, so the new slot stays live, the previous one warm, and the next command ends the
 * window as it does for a watcher that died (docs/releases.md).
 */
describe('the bake watcher and SIGTERM', () => {
  let host: TestHost;
  const bakeLog = () => {
    const log = path.join(host.deployRoot, 'run', 'bake.log');
    return existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(no bake.log)';
  };

  beforeAll(async () => {
    host = await createDeployedTestHost();
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('stops at once, both slots keep running, and the next deploy ends the window with no failed request', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 8, maxDurationMs: 90_000 });
    host.example.commit('v2');
    const deployed = await host.run(['deploy'], { BAKE_TIME: '5m' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    const { bake, slots } = host.state();
    expect(bake).toMatchObject({ previous: 'a', live: 'b' });
    const warmPid = slots.a.pid;
    await waitFor('the watcher to log its start', () => bakeLog().includes(`bake-watch pid ${bake.watcherPid} `), { timeoutMs: 30_000, output: bakeLog });

    expect(signalProcess(bake.watcherPid, 'SIGTERM')).toBe(true);
    await waitFor('the watcher to exit after SIGTERM', () => !isAlive(bake.watcherPid), { timeoutMs: 10_000, output: bakeLog });
    expect(bakeLog()).toMatch(/SIGTERM received: stopped watching, nothing changed: slot b stays live and slot a stays warm; the next deploy, rollback or \.\/deploy\.ts status --repair ends the window and stops slot a/);
    expect(host.state().bake).toMatchObject({ previous: 'a', live: 'b', watcherPid: bake.watcherPid });
    expect(isGroupAlive(warmPid)).toBe(true);
    expect((await host.get('/')).json.version).toBe('v2');
    const status = await host.run(['status']);
    expect(status.output).toMatch(/its watcher is not running: the next deploy, rollback or status --repair stops the warm slot/);

    host.example.commit('v3');
    const next = await host.run(['deploy']);
    // The load goes on after the command: 30 requests begun since it returned have ended.
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(next.exitCode, next.output).toBe(0);
    expect(next.stderr).toMatch(/lost its watcher/);
    expect(isGroupAlive(warmPid)).toBe(false);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect((await host.get('/')).json.version).toBe('v3');
    expect(JSON.parse((await host.run(['status', '--json'])).stdout).disagreements).toEqual([]);
  }, 120_000);

  it('a watcher that reads the state before its spawner recorded its pid waits for the record, then ends the window', async () => {
    host.example.commit('v4');
    const deployed = await host.run(['deploy'], { BAKE_TIME: '5m' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    const state = host.state();
    const { bake } = state;
    const warmPid = state.slots[bake.previous].pid;
    await waitFor('the watcher to log its start', () => bakeLog().includes(`bake-watch pid ${bake.watcherPid} `), { timeoutMs: 30_000, output: bakeLog });
    signalProcess(bake.watcherPid, 'SIGTERM');
    await waitFor('the watcher to exit after SIGTERM', () => !isAlive(bake.watcherPid), { timeoutMs: 10_000, output: bakeLog });

    // What a busy host can make of steps/bake.ts: the window is recorded, the watcher spawned and reading, its pid not yet written.
    const stateFile = path.join(host.deployRoot, 'state.json');
    const unrecorded = { ...bake, endsAt: new Date().toISOString(), watcherPid: null };
    writeFileAtomic(stateFile, JSON.stringify({ ...state, bake: unrecorded }, null, 2));
    const log = openSync(path.join(host.deployRoot, 'run', 'bake.log'), 'a');
    const watcher = spawnDetached([DEPLOY_TS, 'bake-watch', '--no-color'], { cwd: host.deployRoot, env: { ...process.env, DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' }, logFd: log });
    closeSync(log);
    await waitFor('the watcher to wait for its record', () => bakeLog().includes(`the window names no watcher yet: waiting for the command that started pid ${watcher} to record it`), { timeoutMs: 30_000, output: bakeLog });
    writeFileAtomic(stateFile, JSON.stringify({ ...host.state(), bake: { ...host.state().bake, watcherPid: watcher } }, null, 2));

    await waitFor('the watcher to end the window and exit', () => !isAlive(watcher), { timeoutMs: 60_000, output: bakeLog });
    expect(bakeLog()).toContain(`slot ${bake.previous} is no longer kept warm (slot ${bake.live} is live)`);
    expect(host.state().bake ?? null).toBeNull();
    expect(isGroupAlive(warmPid)).toBe(false);
    expect(JSON.parse((await host.run(['status', '--json'])).stdout).disagreements).toEqual([]);
  }, 120_000);
});
