import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, DEPLOY_TS, type TestHost } from '../harness/host.ts';
import { failures, startLoad, summarizeFailures, upstreamFailures } from '../harness/load.ts';
import { parseState } from '../lib/state.ts';
import { resolveConfig } from '../lib/config.ts';
import { FLOW_STEPS, type CycleFacts } from '../lib/steps.ts';
import { waitFor } from './field-support.ts';

/**
 * A deploy killed with SIGKILL at each phase, under keep-alive load through nginx: traffic keeps
 * being served, the state file parses, and the next deploy recovers without manual repair.
 * The default mode's kill points are generated from the step table (lib/steps.ts) for the deploy the
 * tests run (a new commit, a live slot, BAKE_TIME=0 as the harness sets it): a step added there gets
 * its kill test here. The switches' own inner points are added by hand.
 */
type KillPoint = readonly [point: string, when: string, journaled: string | null];
const deployFacts: CycleFacts = { command: 'deploy', target: 'b', previous: 'a', commit: null, reuse: false, warm: false };
const testConfig = resolveConfig({ fileValues: { APP_NAME: 'exampleapp', REPO: '/repo', DEPLOY_ROOT: '/root', BAKE_TIME: '0' }, env: {}, envFile: '/switchyard.env' });
const tableSteps: KillPoint[] = FLOW_STEPS.filter((step) => step.applies(deployFacts, testConfig)).map((step) => [step.name, `as its ${step.name} step begins`, step.name]);

const MODES: readonly (readonly ['nginx-reload' | 'nginx-live-file', readonly KillPoint[]])[] = [
  ['nginx-reload', [
    // [fault point, when, the phase the state's journal holds when the kill lands (null: none yet)]
    ['upstream-written', 'after the upstream file was written, before the reload', 'switch'],
    ['reloaded', 'after the reload, before the old slot stopped', 'switch'],
  ]],
  ['nginx-live-file', [
    ['locked', 'after the lock was taken', null],
    ...tableSteps,
    ['live-file-written', 'after the live-file moved, before nginx was confirmed', 'switch'],
  ]],
];

it('the kill points cover every step of a deploy in the table', () => {
  expect(tableSteps.map(([point]) => point)).toEqual(['fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']);
});

for (const [mode, phases] of MODES) describe(`crash safety (SWITCH=${mode}): SIGKILL at every phase`, () => {
  let host: TestHost;
  let version = 1;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: mode });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  for (const [phase, when, journaled] of phases) {
    it(`killed ${when} (${phase}): traffic is served throughout and the next deploy recovers`, async () => {
      const killedVersion = `v${++version}`;
      host.example.commit(killedVersion);
      const load = startLoad({ port: host.nginx.port, connections: 8, maxDurationMs: 90_000 });
      const liveBefore = host.state().live;
      const killed = await host.run(['deploy'], { SWITCHYARD_TEST_FAULT: `kill@${phase}` });
      expect(killed.exitCode, killed.output).not.toBe(0);
      const state = parseState(readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'));
      // Exactly how far the killed deploy got, as the next command will read it.
      expect(state.journal?.phase ?? null, killed.output).toBe(journaled);
      if (journaled) expect(state.journal, killed.output).toMatchObject({ command: 'deploy', slot: liveBefore === 'a' ? 'b' : 'a' });
      // Whatever the kill left, nginx still serves a working version.
      const during = await host.get('/');
      expect(during.status).toBe(200);

      const status = await host.run(['status']);
      expect(status.exitCode, status.output).toBe(0);

      const nextVersion = `v${++version}`;
      host.example.commit(nextVersion);
      const next = await host.run(['deploy']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const records = await load.stop();
      expect(next.exitCode, next.output).toBe(0);
      expect(next.stderr).toMatch(/took over a stale lock left by pid \d+/);
      if (mode === 'nginx-live-file') expect(next.stdout).toMatch(/no reload/);
      // Without a reload nothing may fail at all; with one, only nginx's own client-connection resets may.
      expect(mode === 'nginx-live-file' ? failures(records) : upstreamFailures(records), summarizeFailures(records)).toEqual([]);
      expect((await host.get('/')).json.version).toBe(nextVersion);
      const report = JSON.parse((await host.run(['status', '--json'])).stdout);
      expect(report.disagreements).toEqual([]);
      expect(report.slots[report.live].healthy).toBe(true);
      const idle = report.live === 'a' ? 'b' : 'a';
      expect(report.slots[idle].pid).toBeNull();
      expect(report.inProgress).toBeNull();
    }, 120_000);
  }
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
    expect(status.stderr).toMatch(/nginx upstream sends traffic to port \d+ \(slot [ab]\) but the state says slot [ab] is live/);
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
    await waitFor(() => /ok start/.test(output) || ended, 'the new slot to start', { timeoutMs: 60_000, output: () => output });
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
      await waitFor(() => /ok start/.test(output) || ended, 'the new slot to start', { timeoutMs: 60_000, output: () => output });
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
    const child = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', BUILD_CMD: `sleep 2; touch ${marker}` }, reject: false, all: true, timeout: 55_000 });
    let output = '';
    child.all?.on('data', (chunk) => (output += chunk));
    let ended = false;
    void child.finally(() => (ended = true));
    await waitFor(() => /ok install/.test(output) || ended, 'the install to finish', { timeoutMs: 45_000, output: () => output });
    expect(output).toMatch(/ok install/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(130);
    await new Promise((resolve) => setTimeout(resolve, 2500));
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
