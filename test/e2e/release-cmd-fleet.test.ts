import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { createNetnsFleet, type NetnsFleet } from '../../harness/netns.ts';
import { releaseCmdOrder } from '../../lib/fleet/release-cmd.ts';
import type { HostCheck } from '../../lib/fleet/preflight.ts';

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
  let fleet: NetnsFleet;
  let dir: string;
  let example: ReturnType<typeof createExampleRepo>;
  let envFile: string;
  const runsLog = () => (path.join(dir, 'runs.log'));
  const runs = () => readFileSync(runsLog(), 'utf8').split('\n').filter(Boolean);
  const liveCommits = () => fleet.hosts.map((host) => {
    const state = host.state();
    return state.live ? state.slots[state.live].commit : null;
  });
  const writeReleaseScript = (failing = false) =>
    writeFileSync(path.join(dir, 'release.sh'), [
      // Each host's name is in its own /srv; the other hosts' state files are visible from here (shared /tmp).
      `seen=$(grep -l "$SWITCHYARD_COMMIT" ${fleet.dir}/h*/srv/fleetapp/state.json 2>/dev/null | wc -l)`,
      failing ? 'echo "ERROR: relation \\"widgets\\" already exists" >&2; exit 7' : `echo "$SWITCHYARD_COMMIT $(cat /srv/name) $seen" >> ${runsLog()}`,
      '',
    ].join('\n'));
  const fleetRun = async (args: string[]) => {
    const result = await execa(DEPLOY_TS, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', XDG_RUNTIME_DIR: dir }, reject: false, all: true, timeout: 400_000 });
    return { exitCode: result.exitCode ?? -1, output: result.all ?? '' };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'swy-release-fleet-'));
    example = createExampleRepo(path.join(dir, 'repo'));
    fleet = await createNetnsFleet({ count: 2, repo: example.repo, env: { RELEASE_CMD: `sh ${path.join(dir, 'release.sh')}` } });
    for (const host of fleet.hosts) writeFileSync(path.join(host.srv, 'name'), `h${host.index}\n`);
    writeFileSync(runsLog(), '');
    writeReleaseScript();
    envFile = path.join(dir, 'fleet.env');
    writeFileSync(envFile, [
      `FLEET_HOSTS="${fleet.hosts.map((host) => host.target).join(', ')}"`,
      `FLEET_SSH_CONFIG=${fleet.sshConfig}`,
      'FLEET_REMOTE=/srv/switchyard/deploy.ts',
      'FLEET_BATCH=100%',
      '',
    ].join('\n'));
  }, 300_000);

  afterAll(async () => {
    await fleet?.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('runs once, on the first host, before the other host begins; later deploys of new commits likewise', async () => {
    const v1 = example.head();
    const first = await fleetRun(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    expect(first.output).toContain(`RELEASE_CMD runs once, in ${fleet.hosts[0].target}'s deploy`);
    expect(liveCommits()).toEqual([v1, v1]);
    // Only the first host's own state named the commit while it ran.
    expect(runs()).toEqual([`${v1} h1 1`]);
    expect(fleet.hosts[0].state().releaseCmdRuns[v1].fleet).toBeTruthy();
    expect(fleet.hosts[1].state().releaseCmdRuns?.[v1]).toBeUndefined();

    const v2 = example.commit('v2');
    const second = await fleetRun(['deploy']);
    expect(second.exitCode, second.output).toBe(0);
    expect(liveCommits()).toEqual([v2, v2]);
    expect(runs()).toEqual([`${v1} h1 1`, `${v2} h1 1`]);
  }, 600_000);

  it('a failing RELEASE_CMD stops the fleet deploy before any host switches', async () => {
    const before = liveCommits();
    const v3 = example.commit('v3');
    writeReleaseScript(true);
    // The dry run says who runs it: the first host's plan runs it, the other's skips it.
    const dry = await fleetRun(['deploy', '--dry-run']);
    expect(dry.exitCode, dry.output).toBe(0);
    expect(dry.output).toContain(`RELEASE_CMD runs once, in ${fleet.hosts[0].target}'s deploy`);
    expect(dry.output).toMatch(/release .*\/bin\/sh -c "sh [^"]+release\.sh"/);
    expect(dry.output).toContain('skipped (--no-release-cmd');
    const failed = await fleetRun(['deploy']);
    expect(failed.exitCode).toBe(1);
    expect(failed.output).toContain(`failed on ${fleet.hosts[0].target} at its release step`);
    expect(failed.output).toContain('release command failed (exit 7)');
    expect(failed.output).toContain('relation "widgets" already exists');
    expect(liveCommits()).toEqual(before);
    // The second host never began: its state does not name the commit.
    expect(readFileSync(path.join(fleet.hosts[1].deployRootOutside, 'state.json'), 'utf8')).not.toContain(v3);
    expect(runs()).toHaveLength(2);
  }, 600_000);
});
