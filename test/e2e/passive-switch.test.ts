import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';

/** SWITCH=passive: both ports stay in the upstream and nginx is never reloaded, so no client connection is ever closed. */
describe('the passive switch through real nginx', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'passive' });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  async function underLoad(args: string[]) {
    const upstreamBefore = readFileSync(host.upstreamFile, 'utf8');
    const errorLogBefore = readFileSync(`${host.nginx.prefix}/error.log`, 'utf8');
    const load = startLoad({ port: host.nginx.port, connections: 32, maxDurationMs: 90_000 });
    await loadAnswered(load);
    const result = await host.run(args);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).not.toMatch(/reload/i);
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(upstreamBefore);
    expect(readFileSync(`${host.nginx.prefix}/error.log`, 'utf8').slice(errorLogBefore.length)).not.toMatch(/signal process started|reconfiguring/);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    return records;
  }

  it('deploys v2 under 32 keep-alive clients with zero failed requests, never reloading nginx', async () => {
    host.example.commit('v2');
    const records = await underLoad(['deploy']);
    expect(records.at(-1)?.version).toBe('v2');
    expect((await host.get('/')).json.version).toBe('v2');
  }, 120_000);

  it('rolls back under load with zero failed requests', async () => {
    const records = await underLoad(['rollback']);
    expect(records.at(-1)?.version).toBe('v1');
    expect((await host.get('/')).json.version).toBe('v1');
  }, 120_000);
});
