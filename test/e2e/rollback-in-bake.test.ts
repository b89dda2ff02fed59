import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { fixtureApp } from '../support/fixture-app.ts';

/**
 * Issue 23 item 2: `rollback` inside the bake window, at a moment the live (new) slot fails its health
 * probe. Before, recovery ran first, took the warm slot for live (it was the healthy one), stopped the
 * new slot, and the rollback then computed its target from that changed state: it "rolled back" to the
 * bad release and drained the good warm slot. The rollback's target is the warm slot the window keeps,
 * whatever one probe says. Real nginx, an app with no SIGTERM handler, load through nginx.
 */
// The app answers /health with 500 while a file named SICK lies beside it.
const useFlakyApp = fixtureApp();

describe('rollback in the bake window while the live slot fails a health probe', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost();
    // The window's own automatic rollback stays out of the way: this is the operator's rollback.
    host.writeEnv({ BAKE_TIME: '120s', AUTO_ROLLBACK: 'off' });
    host.example.commit('v1', useFlakyApp);
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('switches back to the warm slot and its release; the new slot is the one drained', async () => {
    const v1 = host.state().slots.a.commit;
    const v2 = host.example.commit('v2-bad', useFlakyApp);
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const warmPid = host.state().slots.a.pid;
    expect(host.state().bake).toMatchObject({ previous: 'a', live: 'b' });

    const load = startLoad({
      port: host.nginx.port,
      connections: 8,
      mix: { fast: 0.6, post: 0.2, slowpost: 0.2 },
      slowMs: [200, 800],
      maxDurationMs: 90_000,
    });
    // The bad release's health fails from now on, as it does at the moment the operator rolls back.
    const sick = path.join(host.deployRoot, 'releases', v2, 'SICK');
    writeFileSync(sick, 'sick\n');
    let rolledBack;
    try {
      rolledBack = await host.run(['rollback']);
    } finally {
      rmSync(sick, { force: true });
    }
    const records = await load.stop();
    expect(rolledBack.exitCode, rolledBack.output).toBe(0);
    expect(rolledBack.stdout).toContain(`rolled back to ${v1!.slice(0, 7)} on slot a`);
    expect(rolledBack.stdout).not.toContain(`rolled back to ${v2.slice(0, 7)}`);
    const state = host.state();
    expect(state.live).toBe('a');
    expect(state.slots.a.commit).toBe(v1);
    // A switch only: the warm slot kept running, the bad one is what goes.
    expect(state.slots.a.pid).toBe(warmPid);
    expect((await host.get('/')).json.version).toBe('v1');
    expect(failures(records), summarizeFailures(records)).toEqual([]);
  }, 150_000);
});
