import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures, upstreamFailures } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';
import { resolveConfig } from '../../lib/config/config.ts';
import { parseState } from '../../lib/record/state-shape.ts';
import { FLOW_STEPS, type CycleFacts } from '../../lib/cycle/step-table.ts';

/**
 * A deploy killed with SIGKILL at each phase, under keep-alive load through nginx: traffic keeps
 * being served, the state file parses, and the next deploy recovers without manual repair.
 * The default mode's kill points are generated from the step table (lib/cycle/step-table.ts) for the deploy the
 * tests run (a new commit, a live slot, BAKE_TIME=0 as the harness sets it): a step added there gets
 * its kill test. The switches' own inner points are added by hand. The points are spread over a few
 * test files (faults-*.test.ts) so that they run side by side.
 */
export type KillPoint = readonly [point: string, when: string, journaled: string | null];
const deployFacts: CycleFacts = { command: 'deploy', target: 'b', previous: 'a', commit: null, reuse: false, warm: false, recovers: false };
const testConfig = resolveConfig({ fileValues: { APP_NAME: 'exampleapp', REPO: '/repo', DEPLOY_ROOT: '/srv/exampleapp', BAKE_TIME: '0' }, env: {}, envFile: '/switchyard.env' });

/** One kill point per step of the table that a deploy of a new commit runs. */
export const TABLE_KILL_POINTS: KillPoint[] = FLOW_STEPS.filter((step) => step.applies(deployFacts, testConfig)).map((step) => [step.name, `as its ${step.name} step begins`, step.name]);

/** Inside the start step: the new slot's supervisor runs, its pid file is not written yet (test/e2e/faults-orphan.test.ts kills later in that gap too). */
const SPAWNED_KILL_POINT: KillPoint = ['supervisor-spawned', "right after the new slot's supervisor was spawned, before its pid file", 'start'];

/** Every kill point of the default mode: the lock, each step of the table (the start step's inner point after it), the live-file's inner point. */
export const LIVE_FILE_KILL_POINTS: KillPoint[] = [
  ['locked', 'after the lock was taken', null],
  ...TABLE_KILL_POINTS.flatMap((point) => (point[0] === 'start' ? [point, SPAWNED_KILL_POINT] : [point])),
  ['live-file-written', 'after the live-file moved, before nginx was confirmed', 'switch'],
];

/** The reload mode's own inner points (its steps are the table's, covered in the default mode). */
export const RELOAD_KILL_POINTS: KillPoint[] = [
  // [fault point, when, the phase the state's journal holds when the kill lands (null: none yet)]
  ['upstream-written', 'after the upstream file was written, before the reload', 'switch'],
  ['reloaded', 'after the reload, before the old slot stopped', 'switch'],
];

export function describeKills(mode: 'nginx-reload' | 'nginx-live-file', phases: readonly KillPoint[]): void {
  describe(`crash safety (SWITCH=${mode}): SIGKILL at ${phases.map(([point]) => point).join(', ')}`, () => {
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
      // The load goes on after the command: 30 requests begun since it returned have ended.
      await loadAnswered(load, Date.now());
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
}
