import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseCmdOrder } from '../../lib/fleet/release-cmd.ts';
import type { HostCheck } from '../../lib/fleet/preflight.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

describe('releaseCmdOrder: who runs RELEASE_CMD in a fleet', () => {
  const check = (name: string, releaseCmd: boolean, commit: string | null = null) =>
    ({ host: { name }, probe: { version: '1', releaseCmd, commit } }) as unknown as HostCheck;
  const checks = (entries: [string, HostCheck][]) => new Map(entries);

  it('the first host goes alone first and runs it; the rest of its batch follows with --no-release-cmd', () => {
    const order = releaseCmdOrder([['h1', 'h2', 'h3'], ['h4']], checks([['h1', check('h1', true)], ['h2', check('h2', true)]]), 'c2');
    expect(order.batches).toEqual([['h1'], ['h2', 'h3'], ['h4']]);
    expect(order.runsOn).toBe('h1');
    expect(['h1', 'h2', 'h4'].map((host) => order.flags(host))).toEqual([[], ['--no-release-cmd'], ['--no-release-cmd']]);
  });

  it('no host sets RELEASE_CMD: the batches and flags are as they were (hosts of older versions get no new flag)', () => {
    const batches = [['h1', 'h2']];
    const order = releaseCmdOrder(batches, checks([['h1', check('h1', false)], ['h2', check('h2', false)]]), 'c2');
    expect(order.batches).toEqual(batches);
    expect(order.runsOn).toBeUndefined();
    expect(order.flags('h2')).toEqual([]);
  });

  it('a first host already on the commit ran it when it went there: nobody runs it again', () => {
    const order = releaseCmdOrder([['h1', 'h2']], checks([['h1', check('h1', true, 'c2')], ['h2', check('h2', true, 'c1')]]), 'c2');
    expect(order.runsOn).toBeUndefined();
    expect(order.batches).toEqual([['h1', 'h2']]);
    expect(order.flags('h2')).toEqual(['--no-release-cmd']);
  });
});

/**
 * Two real hosts (network namespaces with their own sshd, nginx and /srv) and FLEET_BATCH=100%: the
 * hosts would deploy together, yet RELEASE_CMD runs once, on the first host, before the other host
 * has begun. The "database" is a file both hosts can write (outside their /srv): one line per run,
 * with how many hosts' state files named the commit at that moment.
 */
describe('RELEASE_CMD in a fleet of two hosts', () => {
  let bed: FleetTest;
  const runsLog = () => path.join(bed.dir, 'runs.log');
  const runs = () => readFileSync(runsLog(), 'utf8').split('\n').filter(Boolean);
  const writeReleaseScript = (failing = false) =>
    writeFileSync(path.join(bed.dir, 'release.sh'), [
      // Each host's name is in its own /srv; the other hosts' state files are visible from here (shared /tmp).
      `seen=$(grep -l "$SWITCHYARD_COMMIT" ${bed.fleet.dir}/h*/srv/fleetapp/state.json 2>/dev/null | wc -l)`,
      failing ? 'echo "ERROR: relation \\"widgets\\" already exists" >&2; exit 7' : `echo "$SWITCHYARD_COMMIT $(cat /srv/name) $seen" >> ${runsLog()}`,
      '',
    ].join('\n'));

  beforeAll(async () => {
    bed = await startFleetTest({ name: 'swy-release-fleet-', count: 2, hostEnv: (folder) => ({ RELEASE_CMD: `sh ${path.join(folder, 'release.sh')}` }) });
    for (const host of bed.fleet.hosts) writeFileSync(path.join(host.srv, 'name'), `h${host.index}\n`);
    writeFileSync(runsLog(), '');
    writeReleaseScript();
    bed.writeController({ FLEET_BATCH: '100%' });
  }, 300_000);

  afterAll(() => bed?.cleanUp(), 120_000);

  it('runs once, on the first host, before the other host begins; later deploys of new commits likewise', async () => {
    const v1 = bed.example.head();
    const first = await bed.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    expect(first.output).toContain(`RELEASE_CMD runs once, in ${bed.fleet.hosts[0].target}'s deploy`);
    expect(bed.liveCommits()).toEqual([v1, v1]);
    // Only the first host's own state named the commit while it ran.
    expect(runs()).toEqual([`${v1} h1 1`]);
    expect(bed.fleet.hosts[0].state().releaseCmdRuns[v1].fleet).toBeTruthy();
    expect(bed.fleet.hosts[1].state().releaseCmdRuns?.[v1]).toBeUndefined();

    const v2 = bed.example.commit('v2');
    const second = await bed.run(['deploy']);
    expect(second.exitCode, second.output).toBe(0);
    expect(bed.liveCommits()).toEqual([v2, v2]);
    expect(runs()).toEqual([`${v1} h1 1`, `${v2} h1 1`]);
  }, 600_000);

  it('a failing RELEASE_CMD stops the fleet deploy before any host switches', async () => {
    const before = bed.liveCommits();
    const v3 = bed.example.commit('v3');
    writeReleaseScript(true);
    // The dry run says who runs it: the first host's plan runs it, the other's skips it.
    const dry = await bed.run(['deploy', '--dry-run']);
    expect(dry.exitCode, dry.output).toBe(0);
    expect(dry.output).toContain(`RELEASE_CMD runs once, in ${bed.fleet.hosts[0].target}'s deploy`);
    expect(dry.output).toMatch(/release .*\/bin\/sh -c "sh [^"]+release\.sh"/);
    expect(dry.output).toContain('skipped (--no-release-cmd');
    const failed = await bed.run(['deploy']);
    expect(failed.exitCode).toBe(1);
    expect(failed.output).toContain(`failed on ${bed.fleet.hosts[0].target} at its release step`);
    expect(failed.output).toContain('release command failed (exit 7)');
    expect(failed.output).toContain('relation "widgets" already exists');
    expect(bed.liveCommits()).toEqual(before);
    // The second host never began: its state does not name the commit.
    expect(readFileSync(path.join(bed.fleet.hosts[1].deployRootOutside, 'state.json'), 'utf8')).not.toContain(v3);
    expect(runs()).toHaveLength(2);
  }, 600_000);
});
