import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { TABLE_KILL_POINTS } from '../support/kill-tests.ts';
import { waitFor } from '../../harness/wait.ts';
import { isAlive } from '../../lib/host/process.ts';

/** The kill tests themselves are in faults-*.test.ts (test/support/kill-tests.ts), split so they run side by side. */
it('the kill points are every step a deploy runs in the table', () => {
  expect(TABLE_KILL_POINTS.map(([point]) => point)).toEqual(['fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']);
});

describe('status after a killed deploy', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost();
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('status explains a killed deploy before anything reconciles it', async () => {
    host.example.commit('v2');
    const killed = await host.run(['deploy'], { SWITCHYARD_TEST_FAULT: 'kill@live-file-written' });
    expect(killed.exitCode).not.toBe(0);
    const status = await host.run(['status']);
    expect(status.stderr).toMatch(/a deploy \(pid \d+\) stopped during its "switch" phase, started \d{4}-/);
    expect(status.stderr).toMatch(/nginx sends traffic to slot [ab] but the state says slot [ab] is live/);
    expect(status.stdout).toMatch(/the next deploy or rollback reconciles this: live becomes slot [ab], leftover slot\(s\) [ab] are stopped, the switch is applied again/);
    const repaired = await host.run(['status', '--repair']);
    expect(repaired.exitCode, repaired.output).toBe(0);
    expect(JSON.parse((await host.run(['status', '--json'])).stdout).disagreements).toEqual([]);
  }, 120_000);
});

describe('interruptions and a corrupt state file', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost();
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('SIGHUP (an SSH hang-up with a TTY) does not abort: the deploy runs to its end, as without a TTY', async () => {
    host.example.commit('after-hangup');
    const child = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', EXAMPLE_BOOT_DELAY_MS: '1500' }, reject: false, all: true, timeout: 80_000 });
    let output = '';
    child.all?.on('data', (chunk) => (output += chunk));
    let ended = false;
    void child.finally(() => (ended = true));
    await waitFor('the new slot to start', () => /ok start/.test(output) || ended, { timeoutMs: 60_000, output: () => output });
    child.kill('SIGHUP');
    const result = await child;
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/deployed [0-9a-f]{7} on slot b/);
    expect((await host.get('/')).json.version).toBe('after-hangup');
    // Back to slot a's release for the interruption tests below, which expect v1 live.
    expect((await host.run(['rollback'])).exitCode).toBe(0);
  }, 120_000);

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} during the health wait stops the new slot, releases the lock and exits 130`, async () => {
      host.example.commit(`slow-boot-${signal}`);
      const child = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', EXAMPLE_BOOT_DELAY_MS: '20000' }, reject: false, all: true, timeout: 80_000 });
      let output = '';
      child.all?.on('data', (chunk) => (output += chunk));
      let ended = false;
      void child.finally(() => (ended = true));
      await waitFor('the new slot to start', () => /ok start/.test(output) || ended, { timeoutMs: 60_000, output: () => output });
      expect(output).toMatch(/ok start/);
      child.kill(signal);
      const result = await child;
      expect(result.exitCode, result.all).toBe(130);
      expect(result.stderr).toMatch(new RegExp(`error: deploy interrupted by ${signal}: stopped what it had started; slot a \\([0-9a-f]{7}\\) is still live and serving; the lock was released`));
      expect(existsSync(path.join(host.deployRoot, 'deploy.lock'))).toBe(false);
      expect((await host.get('/')).json.version).toBe('v1');
      const report = JSON.parse((await host.run(['status', '--json'])).stdout);
      expect(report.slots.b.pid).toBeNull();
      expect(report.disagreements).toEqual([]);
      expect(host.state().history.at(-1).outcome).toBe('interrupted');
    }, 90_000);
  }

  it('SIGTERM during a long build kills the build and leaves the live slot serving', async () => {
    const marker = path.join(host.dir, 'build-still-running');
    // A new commit: the earlier ones are kept releases now, which a deploy starts without building.
    host.example.commit('long-build');
    const buildPid = path.join(host.dir, 'build.pid');
    // The build's shell says it runs, then would touch the marker 20 s later unless it is killed first.
    const child = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', BUILD_CMD: `echo $$ > ${buildPid}; sleep 20; touch ${marker}` }, reject: false, all: true, timeout: 55_000 });
    let output = '';
    child.all?.on('data', (chunk) => (output += chunk));
    let ended = false;
    void child.finally(() => (ended = true));
    const pid = await waitFor('the build to start', () => (existsSync(buildPid) && Number(readFileSync(buildPid, 'utf8'))) || ended, { timeoutMs: 45_000, output: () => output });
    expect(ended, output).toBe(false);
    expect(output).toMatch(/ok install/);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(130);
    // With the build's shell gone, nothing is left to touch the marker: its absence is then final.
    await waitFor('the build shell to be gone', () => !isAlive(Number(pid)), { timeoutMs: 10_000 });
    expect(existsSync(marker)).toBe(false);
    expect((await host.get('/')).json.version).toBe('v1');
  }, 60_000);

  it('a corrupt state file is never overwritten; status --repair rebuilds it from the host', async () => {
    const file = path.join(host.deployRoot, 'state.json');
    writeFileSync(file, '{"version": 1, "live": "a", "slo');
    const result = await host.run(['deploy']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(new RegExp(`error: state file ${file.replace(/[/.]/g, '\\$&')} cannot be used: it is not valid JSON.*left as it is.*status --repair`));
    expect(readFileSync(file, 'utf8')).toBe('{"version": 1, "live": "a", "slo');
    expect((await host.get('/')).json.version).toBe('v1');
    const repaired = await host.run(['status', '--repair']);
    expect(repaired.exitCode, repaired.output).toBe(0);
    expect(repaired.stderr).toMatch(/moved to .*state\.json\.broken-/);
    const state = host.state();
    expect(state.live).toBe('a');
    expect(state.slots.a.commit).toMatch(/^[0-9a-f]{40}$/);
    const next = await host.run(['deploy']);
    expect(next.exitCode, next.output).toBe(0);
  }, 120_000);

  it('a state file from a newer version is refused with its path', async () => {
    const file = path.join(host.deployRoot, 'state.json');
    const current = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(current), version: 7 }));
    const result = await host.run(['rollback']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/written by a newer Switchyard \(state version 7/);
    writeFileSync(file, current);
  }, 60_000);
});
