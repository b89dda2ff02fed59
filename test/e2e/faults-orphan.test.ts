import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { loadAnswered, waitFor } from '../../harness/wait.ts';
import { freePort } from '../../harness/ports.ts';
import { procStat } from '../../lib/host/proc.ts';
import { isAlive, isGroupAlive, stopGroup } from '../../lib/host/process.ts';
import { appFiles, readStatus, runningPid, spawnSupervisor, stopApp, unownedSupervisor } from '../../lib/slot/app-process.ts';
import { processesIn } from '../support/process-leaks.ts';

/**
 * A command killed between the spawn of a slot's supervisor and its pid file (lib/slot/app-process.ts)
 * leaves that supervisor running and owned by nobody. Its status file, written first, names its pid and
 * start time: recovery finds it by that proof (never by its port) and stops it, so the next deploy
 * needs no human. The kill right after the spawn is a kill point of the table's tests (test/support/kill-tests.ts);
 * here the command is held in that gap until the app serves, then killed.
 */

describe('a supervisor whose pid file was never written', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-orphan-'));
  const runDir = path.join(dir, 'run');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function spawnOne(name: string) {
    const port = await freePort();
    const { pid, files } = spawnSupervisor({ name, dir, port, host: '127.0.0.1', command: 'exec sleep 60', runDir, env: { PATH: process.env.PATH } });
    await waitFor(`${name}'s status file`, () => readStatus(files)?.appPid);
    return { pid, files };
  }

  it('is found by the pid and start time of its status file, then stopped by name', async () => {
    const { pid, files } = await spawnOne('shop-b');
    try {
      expect(existsSync(files.pidFile)).toBe(false);
      expect(readStatus(files)).toMatchObject({ supervisorPid: pid, startTicks: procStat(pid)!.startTicks });
      expect(runningPid(files)).toBe(pid);
      expect((await stopApp(files, 5000)).result).toBe('exited');
      expect(isGroupAlive(pid)).toBe(false);
    } finally {
      await stopGroup(pid, 5000);
    }
  });

  it('is not ours when the start time differs (a reused pid) or its command line names another instance', async () => {
    const { pid, files } = await spawnOne('shop-a');
    try {
      const status = readStatus(files)!;
      writeFileSync(files.statusFile, JSON.stringify({ ...status, startTicks: status.startTicks! - 1 }));
      expect(unownedSupervisor(files)).toBeUndefined();
      // The same proof in another instance's status file: the command line names shop-a, not shop-b.
      const other = appFiles(runDir, 'shop-b');
      writeFileSync(other.statusFile, JSON.stringify(status));
      expect(unownedSupervisor(other)).toBeUndefined();
      writeFileSync(files.statusFile, JSON.stringify(status));
      expect(unownedSupervisor(files)).toBe(pid);
    } finally {
      await stopGroup(pid, 5000);
    }
  });
});

describe('a deploy killed after the new slot started, before its pid file', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost();
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('the next deploy stops the unowned supervisor, starts the slot again and fails no request', async () => {
    const pause = path.join(host.dir, 'pause');
    host.example.commit('killed-in-the-gap');
    const load = startLoad({ port: host.nginx.port, connections: 8, maxDurationMs: 90_000 });
    const child = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', SWITCHYARD_TEST_FAULT: 'pause@supervisor-spawned', SWITCHYARD_TEST_PAUSE_FILE: pause }, reject: false, all: true, timeout: 80_000 });
    let output = '';
    child.all?.on('data', (chunk) => (output += chunk));
    await waitFor('the deploy to reach the gap', () => existsSync(`${pause}.reached`), { timeoutMs: 60_000, output: () => output });
    const files = appFiles(path.join(host.deployRoot, 'run'), 'exampleapp-b');
    // The latest instant of the gap: the app is up and serving on slot b's port, with no pid file.
    await waitFor("slot b's app to answer", async () => (await fetch(`http://127.0.0.1:${host.ports.b}/health`).catch(() => undefined))?.ok, { timeoutMs: 30_000 });
    const orphan = readStatus(files)!.supervisorPid;
    child.kill('SIGKILL');
    await child;
    expect(existsSync(files.pidFile)).toBe(false);
    expect(isAlive(orphan)).toBe(true);

    const status = await host.run(['status', '--json']);
    expect(JSON.parse(status.stdout).slots.b.pid).toBe(orphan);

    host.example.commit('after-the-gap');
    const next = await host.run(['deploy']);
    // The load goes on after the command: 30 requests begun since it returned have ended.
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(next.exitCode, next.output).toBe(0);
    expect(next.stderr).toMatch(new RegExp(`slot b: pid ${orphan} is running but the state does not record it`));
    expect(isGroupAlive(orphan)).toBe(false);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect((await host.get('/')).json.version).toBe('after-the-gap');
    const report = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(report.disagreements).toEqual([]);
    expect(report.slots.a.pid).toBeNull();
    // Only the live slot's supervisor and app remain of this host.
    const supervisors = processesIn(host.dir).filter((each) => each.command.includes('supervisor.mjs'));
    expect(supervisors.map((each) => each.pid)).toEqual([report.slots.b.pid]);
  }, 120_000);
});
