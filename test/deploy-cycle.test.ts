import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGroupAlive } from '../lib/process.ts';
import { createTestHost, type TestHost } from '../harness/host.ts';
import { failures, isReloadReset, startLoad, summarizeFailures, type RequestRecord } from '../harness/load.ts';

/**
 * deploy v1, deploy v2 (under load), rollback (under load), deploy v3, through a real nginx (SWITCH=nginx).
 * Under load no request may fail on the upstream side: no 502/504, nothing sent to a stopped slot, no
 * POST lost. The one failure nginx itself can cause on reload (a reused idle client connection closed by
 * an exiting worker, see isReloadReset) is counted and reported, not hidden; test/passive-switch.test.ts
 * holds the reload-free switch to strictly zero.
 */
describe('the A/B deploy cycle through real nginx', () => {
  let host: TestHost;
  const commits: Record<string, string> = {};

  beforeAll(async () => {
    host = await createTestHost();
    commits.v1 = host.example.head();
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  function expectNoUpstreamFailure(records: RequestRecord[]) {
    const failed = failures(records);
    expect(failed.filter((record) => !isReloadReset(record)), summarizeFailures(records)).toEqual([]);
    // A reload reset happens at most once per client connection that was idle at the reload instant.
    expect(failed.length, summarizeFailures(records)).toBeLessThanOrEqual(16);
    if (failed.length > 0) console.warn(`nginx reload closed ${failed.length} idle client connection(s) as they were reused: ${summarizeFailures(records)}`);
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

  it('deploys v2 into slot b under keep-alive load with no upstream failure, and stops slot a', async () => {
    commits.v2 = host.example.commit('v2');
    const previousPid = host.state().slots.a.pid;
    const load = startLoad({ port: host.nginx.port, connections: 16, maxDurationMs: 90_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const result = await host.run(['deploy', commits.v2.slice(0, 10)]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expectNoUpstreamFailure(records);
    expect(records.filter((record) => record.method === 'POST').length).toBeGreaterThan(10);
    expect(records.some((record) => record.version === 'v1')).toBe(true);
    expect(records.at(-1)?.version).toBe('v2');
    await expectLive('v2', 'b', commits.v2);
    expect(isGroupAlive(previousPid)).toBe(false);
    expect(host.state().slots.a.commit).toBe(commits.v1);
  }, 120_000);

  it('rolls back to v1 under load with no upstream failure, without rebuilding', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, maxDurationMs: 90_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const result = await host.run(['rollback']);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).not.toMatch(/\binstall\b|\bbuild\b/);
    expect(result.stdout).toMatch(/rolled back to [0-9a-f]{7} on slot a/);
    expectNoUpstreamFailure(records);
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
