import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { startLoad, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { loadAnswered, waitFor } from '../../harness/wait.ts';
import { fixtureApp } from '../support/fixture-app.ts';

/**
 * The bake window judges the new slot by nginx's own figures (docs/canary.md): a release whose `/`
 * fails while /health answers 200 is rolled back by itself, under load, with the figures in its
 * history record; a good release at 5 requests a second is not; too few requests is no verdict and
 * says so; BAKE_CHECK_CMD's non-zero exit fails a window. Real nginx (as root, workers as nobody),
 * real slots, real load through nginx.
 */
const release = (failShare: number) => fixtureApp({ failShare });
const MIX = { fast: 0.8, post: 0.2 };

describe("the bake window's judgement of nginx's figures", () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost();
    host.writeEnv({ BAKE_TIME: '120s', CANARY_INTERVAL: '5s' });
    host.example.commit('v1', release(0));
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  const bakeLog = () => {
    const log = path.join(host.deployRoot, 'run', 'bake.log');
    return existsSync(log) ? readFileSync(log, 'utf8') : '(no bake.log)';
  };
  const automaticRollbacks = () => host.state().history.filter((entry: any) => entry.automatic).length;
  /** Requests sent after the automatic rollback's switch: the mechanism itself must fail none. */
  const failedAfter = (records: RequestRecord[], at: number) =>
    records.filter((record) => record.startedAt > at && record.error !== null);

  async function expectRolledBackUnderLoad(failShare: number, version: string) {
    const before = automaticRollbacks();
    const good = host.state();
    const goodCommit = good.slots[good.live].commit;
    const load = startLoad({ port: host.nginx.port, connections: 8, mix: MIX, maxDurationMs: 110_000 });
    await loadAnswered(load);
    host.example.commit(version, release(failShare));
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect(deployed.stdout).toMatch(/stays warm for an instant rollback/);
    await waitFor('the automatic rollback', () => automaticRollbacks() > before, { timeoutMs: 60_000, output: bakeLog });
    const rolledBackAt = Date.parse(host.state().history.at(-1).at) + host.state().history.at(-1).durationMs;
    await waitFor('the failed slot to be stopped', () => host.state().bake === null, { timeoutMs: 60_000, output: bakeLog });
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(failedAfter(records, rolledBackAt), summarizeFailures(records)).toEqual([]);
    expect((await host.get('/')).json.version).toBe('v1');
    const last = host.state().history.at(-1);
    expect(last).toMatchObject({ command: 'rollback', outcome: 'success', automatic: true, commit: goodCommit });
    expect(last.reason).toMatch(/^slot [ab] failed 2 judged windows in a row during the bake window: slot [ab]: [\d,]+ of [\d,]+ requests 5xx \([\d.]+ %\) against slot [ab] before the switch's 0 of [\d,]+ \(0\.0 %\); the limit is 1\.0 %/);
    expect(last.judgement.candidate.errors / last.judgement.candidate.requests).toBeGreaterThan(failShare / 2);
    expect(last.judgement.baseline.errors).toBe(0);
    expect(bakeLog()).toMatch(/window 2 \(5\.0s\): slot [ab] .*: fail \(2 of 2 in a row\)/);
    return records;
  }

  it('rolls back by itself a release whose / answers 500 while /health answers 200, under load', async () => {
    const records = await expectRolledBackUnderLoad(1, 'v2-broken');
    const status = await host.run(['status']);
    expect(status.stdout).toMatch(/last: AUTOMATIC rollback to [0-9a-f]{7} on slot [ab] .*failed 2 judged windows in a row/);
    expect(records.length).toBeGreaterThan(0);
  }, 180_000);

  it('rolls back by itself a release failing 10 % of requests', async () => {
    await expectRolledBackUnderLoad(0.1, 'v3-flaky');
  }, 180_000);

  it('keeps a good release at about 5 requests a second, and the window ends normally', async () => {
    const before = automaticRollbacks();
    const load = startLoad({ port: host.nginx.port, connections: 1, pauseMs: 200, mix: MIX, maxDurationMs: 110_000 });
    await loadAnswered(load);
    host.example.commit('v4-good', release(0));
    // Long enough for status to see a judged window however slow the host is; the window then ends by itself.
    const deployed = await host.run(['deploy'], { BAKE_TIME: '60s', CANARY_INTERVAL: '10s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    await waitFor('the first judged window', () => /window 1 \(10\.0s\)/.test(bakeLog()), { timeoutMs: 60_000, output: bakeLog });
    const status = await host.run(['status']);
    expect(status.stdout).toMatch(/judgement of slot [ab], window 1 \(at .*\): 0 of \d+ requests 5xx \(0\.0 %\), p50 \d+ ms, p99 \d+ ms: pass/);
    // The watcher ends the window in the state before it writes its last line: both are awaited.
    const judged = /judgement of slot [ab]: [1-9]\d* window\(s\) passed, 0 failed, 0 inconclusive; slot [ab] is no longer kept warm/;
    await waitFor('the window to end and its judgement', () => host.state().bake === null && judged.test(bakeLog()), { timeoutMs: 90_000, output: bakeLog });
    const records = await load.stop();
    expect(records.filter((record) => record.error !== null), summarizeFailures(records)).toEqual([]);
    expect(automaticRollbacks()).toBe(before);
    expect((await host.get('/')).json.version).toBe('v4-good');
    expect(bakeLog()).toMatch(/window 1 \(10\.0s\): slot [ab] 0 of \d+ requests 5xx \(0\.0 %\).*: pass/);
    expect(bakeLog()).toMatch(judged);
  }, 180_000);

  it('without traffic there is no verdict, and the last line says it is not a pass', async () => {
    host.example.commit('v5-quiet', release(0));
    const deployed = await host.run(['deploy'], { BAKE_TIME: '25s' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    // The watcher ends the window in the state before it writes its last line: both are awaited.
    const verdict = /no verdict on slot [ab]: too few requests/;
    await waitFor('the window to end and its verdict', () => host.state().bake === null && verdict.test(bakeLog()), { timeoutMs: 90_000, output: bakeLog });
    expect(bakeLog()).toMatch(/window 1 \(5\.0s\): slot [ab] 0 of 0 requests 5xx .*: inconclusive: slot [ab] answered 0 requests, fewer than the 20 needed/);
    expect(bakeLog()).toMatch(/no verdict on slot [ab]: too few requests to judge it in any window \(0 window\(s\) passed, 0 failed, \d+ inconclusive\); that is not a pass/);
  }, 180_000);

  it("BAKE_CHECK_CMD's non-zero exit fails each window: two roll back by themselves", async () => {
    const before = automaticRollbacks();
    const serving = (await host.get('/')).json.version;
    host.example.commit('v6-checked', release(0));
    const check = 'echo "smoke test of slot $SWITCHYARD_SLOT failed" >&2; exit 3';
    const deployed = await host.run(['deploy'], { BAKE_CHECK_CMD: check });
    expect(deployed.exitCode, deployed.output).toBe(0);
    await waitFor('the automatic rollback', () => automaticRollbacks() > before, { timeoutMs: 60_000, output: bakeLog });
    expect(host.state().history.at(-1).reason).toMatch(/failed 2 judged windows in a row during the bake window: .*BAKE_CHECK_CMD failed: .*exit code 3/);
    await waitFor('the failed slot to be stopped', () => host.state().bake === null, { timeoutMs: 60_000, output: bakeLog });
    expect((await host.get('/')).json.version).toBe(serving);
  }, 180_000);
});
