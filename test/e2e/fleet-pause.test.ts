import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';
import { createNetnsFleet, startFront, waitFor, type FleetFront, type NetnsFleet } from '../../harness/netns.ts';
import { freePort } from '../../harness/ports.ts';

/**
 * The rollout's shape on three real hosts (network namespaces, each its own sshd, nginx and Switchyard
 * with a bake window) behind a real HAProxy, under load: the canary first batch, FLEET_PAUSE during
 * which the canary's own bake judgement rolls it back (the rollout stops, the other hosts untouched),
 * and FLEET_MAX_FAIL letting the rollout go on past one failed host.
 */
const fleetApp = new URL('../fixtures/apps/fleet-app.js', import.meta.url).pathname;
const LOAD = {
  connections: 8, mix: { fast: 0.6, post: 0.2, slowpost: 0.2 }, slowMs: [200, 800] as [number, number],
  maxDurationMs: 300_000, leadMs: 800, tailMs: 500,
};

describe('the rollout shape on three hosts', () => {
  let fleet: NetnsFleet;
  let front: FleetFront;
  let dir: string;
  let example: ReturnType<typeof createExampleRepo>;
  let envFile: string;
  const commitVersion = (name: string) => example.commit(name, (repo) => copyFileSync(fleetApp, path.join(repo, 'server.js')));
  const fleetCommand = (args: string[], env: Record<string, string> = {}): ResultPromise<{ all: true; reject: false }> =>
    execa(DEPLOY_TS, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', XDG_RUNTIME_DIR: dir, ...env }, reject: false, all: true, timeout: 400_000 }) as any;
  const liveCommits = () => fleet.hosts.map((host) => {
    const state = host.state();
    return state.live ? state.slots[state.live].commit : null;
  });
  const sickFile = (index: number) => path.join(fleet.hosts[index].srv, 'sick');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'swy-shape-'));
    example = createExampleRepo(path.join(dir, 'repo'));
    commitVersion('v1');
    // A bake window on every host: its watcher rolls the host back by itself after 3 failed health checks.
    fleet = await createNetnsFleet({ count: 3, repo: example.repo, env: { BAKE_TIME: '5m' } });
    front = await startFront(dir, fleet.hosts.map((host) => host.address), await freePort());
    envFile = path.join(dir, 'fleet.env');
    writeFileSync(envFile, [
      `FLEET_HOSTS="${fleet.hosts.map((host) => host.target).join(' ')}"`,
      `FLEET_SSH_CONFIG=${fleet.sshConfig}`,
      'FLEET_REMOTE=/srv/switchyard/deploy.ts',
      'FLEET_BATCH=100%',
      '',
    ].join('\n'));
    const first = await fleetCommand(['deploy']);
    expect(first.exitCode, first.all).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await front?.stop();
    await fleet?.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("FLEET_PAUSE: the canary's own bake judgement rolls it back during the pause; the rollout stops there, the other hosts untouched, 0 failed", async () => {
    const v1 = liveCommits();
    expect(new Set(v1).size).toBe(1);
    // Healthy when it starts (no /srv/sick yet), sick on the canary once /srv/sick appears there.
    const sick = commitVersion('v2-sick');
    const { result, records } = await duringLoad({ port: front.port, ...LOAD }, async () => {
      const running = fleetCommand(['deploy'], { FLEET_PAUSE: '30s' });
      await waitFor('the canary serving the new release', () => liveCommits()[0] === sick, 200_000);
      writeFileSync(sickFile(0), '');
      await waitFor("the canary's bake watcher rolling it back", () => liveCommits()[0] === v1[0], 60_000);
      return running;
    });
    expect(result.exitCode, result.all).toBe(1);
    expect(result.all).toContain('a first batch of 1 (FLEET_CANARY_HOSTS), batches of 100%, FLEET_PAUSE 30s between them');
    expect(result.all).toContain(`batch 1 of 2: ${fleet.hosts[0].target}\n`);
    expect(result.all).toMatch(/FLEET_PAUSE 30s after batch 1: each host's own bake judgement runs; then each must still serve \w{7}/);
    expect(result.all).toMatch(new RegExp(`failed on ${fleet.hosts[0].target.replace(/[.:/]/g, '\\$&')} at its bake step: rolled itself back during FLEET_PAUSE: it serves ${v1[0].slice(0, 7)}, not ${sick.slice(0, 7)}`));
    expect(result.all).toMatch(/no host had switched; not touched: /);
    expect(result.all).not.toContain('batch 2 of 2');
    expect(liveCommits()).toEqual(v1);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    rmSync(sickFile(0));
  }, 400_000);

  it('FLEET_MAX_FAIL: one failed host of three within 34% is passed by; the rollout ends on the others and exits 1 naming it', async () => {
    const v1 = liveCommits();
    const sick = commitVersion('v3-sick');
    writeFileSync(sickFile(0), '');
    try {
      const { result, records } = await duringLoad({ port: front.port, ...LOAD }, () => fleetCommand(['deploy'], { FLEET_MAX_FAIL: '34' }));
      expect(result.exitCode, result.all).toBe(1);
      expect(result.all).toMatch(new RegExp(`went on past 1 failed host\\(s\\), within FLEET_MAX_FAIL=34%: ${fleet.hosts[0].target.replace(/[.:/]/g, '\\$&')} \\(health: `));
      expect(result.all).toContain('batch 2 of 2');
      expect(liveCommits()).toEqual([v1[0], sick, sick]);
      expect(failures(records), summarizeFailures(records)).toEqual([]);
      const history = JSON.parse(String((await fleetCommand(['history', '--json'])).stdout));
      expect(Object.values(history.at(-1).outcomes)).toEqual(['partial', 'partial', 'partial']);
    } finally {
      rmSync(sickFile(0), { force: true });
    }
  }, 400_000);
});
