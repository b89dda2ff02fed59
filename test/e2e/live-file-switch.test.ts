import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';
import { readPidFile } from '../../lib/host/process.ts';
import { childPids } from '../../lib/host/proc.ts';

/**
 * SWITCH=nginx-live-file, the default (SWITCH is not set here): per-slot upstream groups and a file nginx checks per request, so a deploy
 * never reloads nginx (no client connection is closed) and still cuts over at one moment, only
 * after the health check passed.
 */
describe('the live-file switch through real nginx', () => {
  let host: TestHost;
  const workers = () => childPids(readPidFile(host.nginx.pidFile)!).sort();

  beforeAll(async () => {
    host = await createDeployedTestHost();
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  /** After the first answer from `version`, every request started later is answered by it. */
  function expectCleanCutOver(records: RequestRecord[], version: string) {
    const first = records.filter((record) => record.version === version).sort((x, y) => x.startedAt - y.startedAt)[0];
    expect(first, 'the new version never answered').toBeDefined();
    const late = records.filter((record) => record.startedAt > first.startedAt + 100 && record.version !== version);
    expect(late.map((record) => `${record.method} ${record.kind} ${record.version}`)).toEqual([]);
  }

  async function underLoad(args: string[], version: string) {
    const before = workers();
    const upstream = readFileSync(host.upstreamFile, 'utf8');
    const load = startLoad({ port: host.nginx.port, connections: 32, maxDurationMs: 90_000 });
    await loadAnswered(load);
    const result = await host.run(args);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/switch +live-file → slot [ab], confirmed through nginx \(5 answers in a row through nginx came from slot [ab]\); no reload/);
    expect(result.stdout).toMatch(/drain +\d+ connection\(s\) from nginx to slot [ab] closed in [\d.]+m?s; slot [ab] exited/);
    expect(workers(), 'nginx was reloaded').toEqual(before);
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(upstream);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expectCleanCutOver(records, version);
    expect((await host.get('/')).json.version).toBe(version);
  }

  it('deploys v2 under 32 keep-alive clients: zero failed requests, no reload, one cut-over', async () => {
    host.example.commit('v2');
    await underLoad(['deploy'], 'v2');
    const report = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(report.live).toBe('b');
    expect(report.upstreamPort).toBe(host.ports.b);
    expect(report.disagreements).toEqual([]);
  }, 120_000);

  it('rolls back under load the same way', async () => {
    await underLoad(['rollback'], 'v1');
  }, 120_000);

  it('undoes the switch when the check URL cannot show which slot answered, and says why', async () => {
    const before = host.state();
    host.example.commit('v3');
    // The app's own health route: 200, but no X-Switchyard-* headers, so nothing proves the switch.
    const result = await host.run(['deploy'], { NGINX_CHECK_URL: `http://127.0.0.1:${host.ports[before.live as 'a' | 'b']}/health` });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/has no X-Switchyard-Upstream header/);
    expect(result.stderr).toMatch(/nginx-site/);
    expect(host.state().live).toBe(before.live);
    expect((await host.get('/')).json.version).toBe('v1');
    expect(existsSync(path.join(host.deployRoot, 'nginx', `live-${before.live}`))).toBe(true);
    expect(existsSync(path.join(host.deployRoot, 'nginx', `live-${before.live === 'a' ? 'b' : 'a'}`))).toBe(false);
  }, 60_000);
});
