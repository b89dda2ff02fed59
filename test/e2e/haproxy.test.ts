import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyHost, HAPROXY_TEMPLATES, type HaproxyHost } from '../../harness/haproxy.ts';
import { duringLoad, failures, startLoad, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { loadAnswered, waitFor } from '../../harness/wait.ts';
import { fixtureApp } from '../support/fixture-app.ts';

/**
 * SWITCH=command with a real HAProxy, switched by the shipped templates/haproxy/switch.sh and
 * confirmed by check.sh, for an app with no SIGTERM handler under keep-alive GET, POST and slow-POST
 * load: no request may fail, and after each command HAProxy sends traffic to the new version.
 */
const noHandlerApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;
const LOAD_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

describe('SWITCH=command with HAProxy (templates/haproxy)', () => {
  let host: HaproxyHost;
  let sent = 0;
  let failed = 0;
  let version = 1;

  beforeAll(async () => {
    host = await createHaproxyHost({ app: noHandlerApp });
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => {
    console.log(`HAProxy test load: ${sent} requests sent, ${failed} failed`);
    await host?.cleanUp();
  }, 60_000);

  async function underLoad(args: string[], env: Record<string, string> = {}): Promise<{ result: Awaited<ReturnType<HaproxyHost['run']>>; records: RequestRecord[]; returnedAt: number }> {
    const { result, records, returnedAt } = await duringLoad(
      { port: host.haproxy.port, connections: 24, mix: LOAD_MIX, slowMs: [300, 1500], maxDurationMs: 90_000 },
      () => host.run(args, env),
    );
    sent += records.length;
    failed += failures(records).length;
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    return { result, records, returnedAt };
  }

  async function expectServed(expected: string): Promise<void> {
    const live = host.state().live;
    for (let i = 0; i < 5; i++) {
      const answer = await host.get('/');
      expect(answer.status).toBe(200);
      expect(answer.json.version).toBe(expected);
      expect(answer.server, 'X-Switchyard-Server: the HAProxy server that answered').toBe(live);
    }
  }

  function expectSwitched(result: { result: Awaited<ReturnType<HaproxyHost['run']>>; records: RequestRecord[]; returnedAt: number }, expected: string): void {
    const { result: run, records, returnedAt } = result;
    expect(run.exitCode, run.output).toBe(0);
    expect(run.stdout).toMatch(/switch +SWITCH_CMD sent traffic to slot [ab]; SWITCH_CHECK_CMD passed 3 times in a row/);
    // HAProxy keeps no idle connection to a slot (option http-server-close): the drain waits only for requests still running.
    expect(run.stdout).toMatch(/drain +\d+ connection\(s\) from the load balancer to slot [ab] closed in/);
    const lateOld = records.filter((record) => record.startedAt >= returnedAt && record.version !== expected);
    expect(lateOld.length, 'requests answered by the old version after the command returned').toBe(0);
  }

  it('deploys three times under load: 0 failed, and HAProxy sends traffic to each new version', async () => {
    await expectServed('v1');
    for (let round = 0; round < 3; round++) {
      const next = `v${++version}`;
      host.example.commit(next);
      const outcome = await underLoad(['deploy']);
      expectSwitched(outcome, next);
      // Slow POSTs running on the old slot at the switch finished there: the drain waited for them.
      expect(outcome.records.some((record) => record.kind === 'slowpost' && record.version !== next)).toBe(true);
      await expectServed(next);
    }
  }, 240_000);

  it('rolls back the same way', async () => {
    const back = `v${version - 1}`;
    const outcome = await underLoad(['rollback']);
    expectSwitched(outcome, back);
    await expectServed(back);
  }, 120_000);

  it('a failing SWITCH_CHECK_CMD puts traffic back on the previous slot and fails with one line', async () => {
    const before = host.state();
    const servedBefore = (await host.get('/')).json.version;
    host.example.commit(`v${++version}`);
    // A check pointed at a backend that does not exist: it can never pass.
    const wrongCheck = `${host.scriptVars.replace('HAPROXY_BACKEND=myapp', 'HAPROXY_BACKEND=otherapp')} ${HAPROXY_TEMPLATES}/check.sh`;
    const { result } = await underLoad(['deploy'], { SWITCH_CHECK_CMD: wrongCheck, HEALTH_TIMEOUT: '5s' });
    expect(result.exitCode, result.output).not.toBe(0);
    const errorLines = result.stderr.split('\n').filter((line) => /^(✖|error|Error)/.test(line.trim()));
    expect(errorLines, result.stderr).toHaveLength(1);
    expect(result.stderr).toMatch(/the load balancer does not send traffic to slot [ab] \(port \d+\): SWITCH_CHECK_CMD did not pass 3 times in a row within 10(\.0)?s .*no server otherapp\/[ab].*; traffic was sent back to slot [ab]/);
    expect(host.state().live).toBe(before.live);
    await expectServed(servedBefore);
  }, 120_000);

  it('a deploy killed right after SWITCH_CMD ran: HAProxy still serves, and the next deploy recovers and succeeds', async () => {
    const killedVersion = `v${++version}`;
    host.example.commit(killedVersion);
    const load = startLoad({ port: host.haproxy.port, connections: 16, mix: LOAD_MIX, slowMs: [300, 1500], maxDurationMs: 90_000 });
    const killed = await host.run(['deploy'], { SWITCHYARD_TEST_FAULT: 'kill@switch-command-ran' });
    expect(killed.exitCode, killed.output).not.toBe(0);
    expect(host.state().journal?.phase, killed.output).toBe('switch');
    const during = await host.get('/');
    expect(during.status).toBe(200);

    const nextVersion = `v${++version}`;
    host.example.commit(nextVersion);
    const next = await host.run(['deploy']);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    sent += records.length;
    failed += failures(records).length;
    expect(next.exitCode, next.output).toBe(0);
    expect(next.stderr).toMatch(/took over a stale lock left by pid \d+/);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    await expectServed(nextVersion);
    const report = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(report.disagreements).toEqual([]);
    expect(report.inProgress).toBeNull();
    expect(report.slots[report.live === 'a' ? 'b' : 'a'].pid).toBeNull();
  }, 120_000);

  /** The window's watcher logs to bake.log: a wait that times out shows its end. */
  const bakeLog = () => {
    const log = path.join(host.deployRoot, 'run', 'bake.log');
    return existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(no bake.log)';
  };

  it('bake window: a rollback inside it is a switch only, through SWITCH_CMD', async () => {
    const before = (await host.get('/')).json.version;
    const next = `v${++version}`;
    host.example.commit(next);
    const deployed = await underLoad(['deploy'], { BAKE_TIME: '60s' });
    expect(deployed.result.exitCode, deployed.result.output).toBe(0);
    expect(deployed.result.stdout).toMatch(/stays warm for an instant rollback until/);
    await expectServed(next);
    const rolledBack = await underLoad(['rollback'], { BAKE_TIME: '60s' });
    expect(rolledBack.result.exitCode, rolledBack.result.output).toBe(0);
    expect(rolledBack.result.stdout).toMatch(/still runs [0-9a-f]{7} \(bake window\): nothing to start/);
    expect(rolledBack.result.stdout).toMatch(/SWITCH_CHECK_CMD passed 3 times in a row/);
    await expectServed(before);
    // The watcher ends the window in the state before it writes its drain line: both are awaited.
    const drained = /drain +\d+ connection\(s\) from the load balancer to slot [ab] closed in/;
    const logged = () => readFileSync(path.join(host.deployRoot, 'run', 'bake.log'), 'utf8');
    await waitFor('the rolled-back slot to be drained and stopped', () => host.state().bake === null && drained.test(logged()), { timeoutMs: 40_000, output: bakeLog });
    expect(logged()).toMatch(drained);
  }, 120_000);

  it('bake window: the watcher rolls back by itself through SWITCH_CMD when the new slot turns sick, with no failed request', async () => {
    const before = (await host.get('/')).json.version;
    const load = startLoad({ port: host.haproxy.port, connections: 16, mix: LOAD_MIX, slowMs: [300, 1500], maxDurationMs: 90_000 });
    // The sick release turns sick when the test says so, once the deploy has returned: a release that
    // turned sick by the clock could do it before check.sh's 3 passes through HAProxy were over (which
    // then rightly refuse it), and the watcher must be the one to catch it.
    const turnSick = path.join(host.dir, `turn-sick-v${version + 1}`);
    host.example.commit(`v${++version}-sick`, fixtureApp({ sickWhen: turnSick }));
    const deployed = await host.run(['deploy'], { BAKE_TIME: '60s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect((await host.get('/')).json.version).toBe(`v${version}-sick`);
    writeFileSync(turnSick, '');
    await waitFor('the automatic rollback', () => host.state().history.at(-1)?.automatic === true, { timeoutMs: 60_000, output: bakeLog });
    await waitFor('the sick slot to be stopped', () => host.state().bake === null, { timeoutMs: 40_000, output: bakeLog });
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    sent += records.length;
    failed += failures(records).length;
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    await expectServed(before);
    expect(readFileSync(path.join(host.deployRoot, 'run', 'bake.log'), 'utf8')).toMatch(/automatic rollback to slot [ab]: SWITCH_CMD sent traffic to slot [ab]; SWITCH_CHECK_CMD passed 3 times in a row/);
  }, 150_000);

  it('doctor checks the switch command and that traffic reaches the live slot', async () => {
    const doctor = await host.run(['doctor']);
    expect(doctor.stdout).toMatch(/✔ switch command +SWITCH_CHECK_CMD confirms traffic reaches live slot [ab]/);
    expect(doctor.stdout).not.toMatch(/nginx/);
    expect(doctor.exitCode, doctor.output).toBe(0);
    const status = await host.run(['status']);
    expect(status.stdout).toMatch(/switch: command/);
    expect(status.stdout).toMatch(/SWITCH_CMD .*switch\.sh; SWITCH_CHECK_CMD .*check\.sh \(Switchyard cannot read where the load balancer sends traffic/);
  }, 60_000);
});
