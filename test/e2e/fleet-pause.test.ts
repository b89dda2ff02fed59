import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';
import { waitFor } from '../../harness/wait.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * The rollout's shape on three real hosts (network namespaces, each its own sshd, nginx and Switchyard
 * with a bake window) behind a real HAProxy, under load: the canary first batch, FLEET_PAUSE during
 * which the canary's own bake judgement rolls it back (the rollout stops, the other hosts untouched),
 * and FLEET_MAX_FAIL letting the rollout go on past one failed host.
 */

describe('the rollout shape on three hosts', () => {
  let bed: FleetTest;
  const sickFile = (index: number) => path.join(bed.fleet.hosts[index].srv, 'sick');

  beforeAll(async () => {
    // A bake window on every host: its watcher rolls the host back by itself after 3 failed health checks.
    bed = await startFleetTest({ name: 'swy-shape-', count: 3, hostEnv: { BAKE_TIME: '5m' }, front: 'round-robin' });
    bed.writeController({ FLEET_BATCH: '100%' });
    const first = await bed.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 300_000);

  afterAll(() => bed?.cleanUp(), 120_000);

  it("FLEET_PAUSE: the canary's own bake judgement rolls it back during the pause; the rollout stops there, the other hosts untouched, 0 failed", async () => {
    const v1 = bed.liveCommits();
    expect(new Set(v1).size).toBe(1);
    // Healthy when it starts (no /srv/sick yet), sick on the canary once /srv/sick appears there.
    const sick = bed.commitVersion('v2-sick');
    const { result, records } = await duringLoad(bed.load(), async () => {
      const running = bed.command(['deploy'], { FLEET_PAUSE: '30s' });
      await waitFor('the canary serving the new release', () => bed.liveCommits()[0] === sick, { timeoutMs: 200_000 });
      writeFileSync(sickFile(0), '');
      await waitFor("the canary's bake watcher rolling it back", () => bed.liveCommits()[0] === v1[0], { timeoutMs: 60_000 });
      return running;
    });
    expect(result.exitCode, result.all).toBe(1);
    expect(result.all).toContain('a first batch of 1 (FLEET_CANARY_HOSTS), batches of 100%, FLEET_PAUSE 30s between them');
    expect(result.all).toContain(`batch 1 of 2: ${bed.fleet.hosts[0].target}\n`);
    expect(result.all).toMatch(/FLEET_PAUSE 30s after batch 1: each host's own bake judgement runs; then each must still serve \w{7}/);
    expect(result.all).toMatch(new RegExp(`failed on ${bed.fleet.hosts[0].target.replace(/[.:/]/g, '\\$&')} at its bake step: rolled itself back during FLEET_PAUSE: it serves ${v1[0]!.slice(0, 7)}, not ${sick.slice(0, 7)}`));
    expect(result.all).toMatch(/no host had switched; not touched: /);
    expect(result.all).not.toContain('batch 2 of 2');
    expect(bed.liveCommits()).toEqual(v1);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    rmSync(sickFile(0));
  }, 400_000);

  it('FLEET_MAX_FAIL: one failed host of three within 34% is passed by; the rollout ends on the others and exits 1 naming it', async () => {
    const v1 = bed.liveCommits();
    const sick = bed.commitVersion('v3-sick');
    writeFileSync(sickFile(0), '');
    try {
      const { result, records } = await duringLoad(bed.load(), () => bed.command(['deploy'], { FLEET_MAX_FAIL: '34' }));
      expect(result.exitCode, result.all).toBe(1);
      expect(result.all).toMatch(new RegExp(`went on past 1 failed host\\(s\\), within FLEET_MAX_FAIL=34%: ${bed.fleet.hosts[0].target.replace(/[.:/]/g, '\\$&')} \\(health: `));
      expect(result.all).toContain('batch 2 of 2');
      expect(bed.liveCommits()).toEqual([v1[0], sick, sick]);
      expect(failures(records), summarizeFailures(records)).toEqual([]);
      const history = JSON.parse(String((await bed.command(['history', '--json'])).stdout));
      expect(Object.values(history.at(-1).outcomes)).toEqual(['partial', 'partial', 'partial']);
    } finally {
      rmSync(sickFile(0), { force: true });
    }
  }, 400_000);
});
