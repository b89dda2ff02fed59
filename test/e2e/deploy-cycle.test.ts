import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGroupAlive } from '../../lib/host/process.ts';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { failures, isReloadReset, startLoad, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';

/**
 * deploy v1, deploy v2 (under load), rollback (under load), deploy v3, through a real nginx in the
 * default mode (SWITCH unset): under keep-alive load not a single request may fail.
 */
describe('the A/B deploy cycle through real nginx', () => {
  let host: TestHost;
  const commits: Record<string, string> = {};

  beforeAll(async () => {
    host = await createTestHost();
    commits.v1 = host.example.head();
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  function expectNoFailure(records: RequestRecord[]) {
    expect(failures(records), summarizeFailures(records)).toEqual([]);
  }

  async function expectLive(version: string, slot: 'a' | 'b', commit: string) {
    const response = await host.get('/');
    expect(response.status).toBe(200);
    expect(response.json.version).toBe(version);
    expect(response.json.slot).toBe(slot);
    const state = host.state();
    expect(state.live).toBe(slot);
    expect(state.next_deploy).toBe(slot === 'a' ? 'b' : 'a');
    expect(state.slots[slot].commit).toBe(commit);
    const status = await host.run(['status', '--json']);
    expect(status.exitCode, status.output).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.live).toBe(slot);
    expect(report.slots[slot].commit).toBe(commit);
    expect(report.slots[slot].healthy).toBe(true);
    expect(report.disagreements).toEqual([]);
    // The other slot's process is gone.
    const other = slot === 'a' ? 'b' : 'a';
    expect(report.slots[other].pid).toBeNull();
    return state;
  }

  it('deploys v1 from the configured branch into slot a', async () => {
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/deployed [0-9a-f]{7} on slot a/);
    await expectLive('v1', 'a', commits.v1);
  }, 120_000);

  it('deploys v2 into slot b under keep-alive load with zero failed requests, and stops slot a', async () => {
    commits.v2 = host.example.commit('v2');
    const previousPid = host.state().slots.a.pid;
    const load = startLoad({ port: host.nginx.port, connections: 16, maxDurationMs: 90_000 });
    await loadAnswered(load);
    const result = await host.run(['deploy', commits.v2.slice(0, 10)]);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expectNoFailure(records);
    expect(records.filter((record) => record.method === 'POST').length).toBeGreaterThan(10);
    expect(records.some((record) => record.version === 'v1')).toBe(true);
    expect(records.at(-1)?.version).toBe('v2');
    await expectLive('v2', 'b', commits.v2);
    expect(isGroupAlive(previousPid)).toBe(false);
    expect(host.state().slots.a.commit).toBe(commits.v1);
  }, 120_000);

  it('rolls back to v1 under load with zero failed requests, without rebuilding', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, maxDurationMs: 90_000 });
    await loadAnswered(load);
    const result = await host.run(['rollback']);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).not.toMatch(/\binstall\b|\bbuild\b/);
    expect(result.stdout).toMatch(/rolled back to [0-9a-f]{7} on slot a/);
    expectNoFailure(records);
    expect(records.at(-1)?.version).toBe('v1');
    await expectLive('v1', 'a', commits.v1);
  }, 120_000);

  it('deploys v3 into the idle slot b and records the history', async () => {
    commits.v3 = host.example.commit('v3');
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    const state = await expectLive('v3', 'b', commits.v3);
    expect(state.history.map((entry: any) => `${entry.command}:${entry.outcome}:${entry.commit}`)).toEqual([
      `deploy:success:${commits.v1}`,
      `deploy:success:${commits.v2}`,
      `rollback:success:${commits.v1}`,
      `deploy:success:${commits.v3}`,
    ]);
    expect(state.journal).toBeNull();
  }, 120_000);
});

/**
 * SWITCH=nginx-reload, the mode that rewrites the upstream and reloads nginx. Its stated cost: a
 * reload closes idle client keep-alive connections, so a client writing on one at that instant gets a
 * reset (isReloadReset: a connection the old worker held idle, reset before any response byte). Those are
 * counted and reported; anything else (a 5xx, a refused connection, a timeout, a response cut after its
 * status) fails the test.
 */
describe('SWITCH=nginx-reload through real nginx', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-reload' });
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('lists the other slot as backup from the first deploy on', async () => {
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    const upstream = readFileSync(host.upstreamFile, 'utf8');
    expect(upstream).toContain(`server 127.0.0.1:${host.ports.a} max_fails=0;`);
    expect(upstream).toContain(`server 127.0.0.1:${host.ports.b} max_fails=0 backup;`);
  }, 120_000);

  it('deploys v2 under load with no upstream failure, confirmed through nginx and drained at the proxy', async () => {
    host.example.commit('v2');
    const load = startLoad({ port: host.nginx.port, connections: 16, maxDurationMs: 90_000 });
    await loadAnswered(load);
    const result = await host.run(['deploy']);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/switch +nginx reloaded; .*5 answers in a row through nginx came from slot b/);
    expect(result.stdout).toMatch(/drain +\d+ connection\(s\) from nginx to slot a closed in/);
    const failed = failures(records);
    expect(failed.filter((record) => !isReloadReset(record)), summarizeFailures(records)).toEqual([]);
    if (failed.length > 0) console.warn(`nginx-reload's stated cost: ${summarizeFailures(records)}`);
    expect((await host.get('/')).json.version).toBe('v2');
  }, 120_000);

  it('a failing `nginx -t` restores the previous upstream file and leaves v2 serving', async () => {
    const before = readFileSync(host.upstreamFile, 'utf8');
    host.example.commit('v3');
    const broken = path.join(host.dir, 'broken-nginx.conf');
    writeFileSync(broken, readFileSync(host.nginx.confFile, 'utf8').replace('events {', 'this_is_not_a_directive on;\nevents {'));
    const result = await host.run(['deploy'], { NGINX_TEST_CMD: `nginx -p ${host.nginx.prefix} -c ${broken} -t -q` });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/nginx rejected the new upstream .*restored and nginx was not reloaded/);
    expect(result.stderr).toContain('this_is_not_a_directive');
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(before);
    expect((await host.get('/')).json.version).toBe('v2');
  }, 120_000);
});
