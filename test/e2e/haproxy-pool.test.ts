import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHaproxyHost, type HaproxyHost } from '../../harness/haproxy.ts';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';

/**
 * SWITCH=command with a real HAProxy and a pool of two processes per slot (INSTANCES=2), switched by
 * the shipped templates/haproxy/switch.sh (servers a, a2, b, b2) and confirmed by check.sh, for an app
 * with no SIGTERM handler under keep-alive GET, POST and slow-POST load. Its own file so that it runs
 * beside test/e2e/haproxy.test.ts.
 */
const noHandlerApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;
const LOAD_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

describe('SWITCH=command with HAProxy and INSTANCES=2 (servers a, a2, b, b2)', () => {
  let host: HaproxyHost;

  beforeAll(async () => {
    host = await createHaproxyHost({ app: noHandlerApp, instances: 2 });
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('deploys twice under load: 0 failed, both processes of the new slot answer, none of the old slot after the command', async () => {
    for (const next of ['v2', 'v3']) {
      host.example.commit(next);
      const { result, records, returnedAt } = await duringLoad({ port: host.haproxy.port, connections: 24, mix: LOAD_MIX, slowMs: [300, 1500], maxDurationMs: 90_000, leadMs: 800, tailMs: 1500 }, () => host.run(['deploy']));
      expect(result.exitCode, result.output).toBe(0);
      expect(result.stdout).toMatch(/switch +SWITCH_CMD sent traffic to slot [ab]; SWITCH_CHECK_CMD passed 3 times in a row/);
      expect(failures(records), summarizeFailures(records)).toEqual([]);
      expect(records.filter((record) => record.startedAt >= returnedAt && record.version !== next)).toEqual([]);
      const newPids = new Set(records.filter((record) => record.version === next && record.pid).map((record) => record.pid));
      expect(newPids.size, 'HAProxy balanced over both new processes').toBe(2);
    }
    const servers = new Set<string>();
    for (let i = 0; i < 8; i++) servers.add((await host.get('/')).server ?? 'none');
    const live = host.state().live;
    expect([...servers].sort()).toEqual([live, `${live}2`]);
  }, 240_000);
});
