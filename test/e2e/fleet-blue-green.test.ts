import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';
import { snapshotTree } from '../support/field-support.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * Blue-green on two real hosts (network namespaces, each its own sshd, /srv, nginx and Switchyard),
 * group A and group B, behind a real HAProxy made from templates/fleet/haproxy-front.cfg and switched
 * by templates/fleet/switch.sh and check.sh as shipped. Load through the front; no SIGTERM handler.
 */

const TEMPLATES = fileURLToPath(new URL('../../templates/fleet', import.meta.url));

describe('a blue-green fleet', () => {
  let bed: FleetTest;
  const served = () => bed.served(async (response) => `${response.headers.get('x-switchyard-server')} ${(await response.json()).version}`, 20);
  const historyLength = (index: number) => bed.fleet.hosts[index].state().history.length;

  const socket = (dir: string) => path.join(dir, 'front.sock');

  beforeAll(async () => {
    // The shipped front, with only what a test machine cannot share changed: the socket, the port, the hosts.
    bed = await startFleetTest({
      name: 'swy-bluegreen-', count: 2, front: ({ fleet, port, dir }) => {
        const config = readFileSync(path.join(TEMPLATES, 'haproxy-front.cfg'), 'utf8')
          .replace('/run/haproxy/fleet.sock mode 660', `${socket(dir)} mode 600`)
          .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${port}`)
          .replace('server a1 10.0.0.11:80', `server a1 ${fleet.hosts[0].address}:80`)
          .replace('server b1 10.0.0.21:80 disabled', `server b1 ${fleet.hosts[1].address}:80 disabled`);
        expect(config).toContain(fleet.hosts[1].address);
        return config;
      },
    });
    const vars = `HAPROXY_SOCKET=${socket(bed.dir)} HAPROXY_BACKEND=fleet HAPROXY_SERVERS_A=a1 HAPROXY_SERVERS_B=b1 HAPROXY_CHECK_URL=${bed.front.url('/health')}`;
    bed.writeController({
      FLEET_STRATEGY: 'blue-green',
      FLEET_GROUP_A: bed.fleet.hosts[0].target,
      FLEET_GROUP_B: bed.fleet.hosts[1].target,
      FLEET_SWITCH_CMD: `${vars} ${path.join(TEMPLATES, 'switch.sh')}`,
      FLEET_SWITCH_CHECK_CMD: `${vars} ${path.join(TEMPLATES, 'check.sh')}`,
    });
  }, 300_000);

  afterAll(() => bed?.cleanUp(), 120_000);

  it('deploys the idle group and switches to it under load (0 failed); rollback is the switch only; a failing check switches back', async () => {
    const first = await bed.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    expect(first.output).toMatch(/no group served before, so `fleet rollback` has nothing to go back to/);
    expect(first.output).not.toMatch(/group none/);
    expect(await served()).toEqual(['a1 v1']);

    const v2 = bed.commitVersion('v2');
    // --dry-run: the idle group's hosts and their plans, then the switch; no batches, nothing changed (but the
    // mirror of REPO on the host first in name order, which resolves the revision as a real deploy's preflight).
    const withoutMirror = (files: Record<string, string>) =>
      Object.fromEntries(Object.entries(files).filter(([file]) => !file.startsWith('.switchyard')));
    const idleRoot = bed.fleet.hosts[1].deployRootOutside;
    const idleFiles = () => (existsSync(idleRoot) ? withoutMirror(snapshotTree(idleRoot)) : null);
    const stateBefore = idleFiles();
    const dry = await bed.run(['deploy', '--dry-run']);
    expect(dry.exitCode, dry.output).toBe(0);
    expect(dry.output).toMatch(/blue-green; live group A/);
    expect(dry.output).toMatch(/group B deploys, all at once: /);
    expect(dry.output).toMatch(/then FLEET_SWITCH_CMD moves traffic to group B.*group A \(.*\) stays warm/);
    expect(dry.output).not.toMatch(/batch 1 of/);
    expect(idleFiles()).toEqual(stateBefore);
    const deployed = await duringLoad(bed.load(), () => bed.run(['deploy']));
    expect(deployed.result.exitCode, deployed.result.output).toBe(0);
    expect(failures(deployed.records), summarizeFailures(deployed.records)).toEqual([]);
    expect(await served()).toEqual(['b1 v2']);
    expect(bed.fleet.hosts[1].state().slots[bed.fleet.hosts[1].state().live].commit).toBe(v2);
    // The previous group stays warm, serving its version out of rotation.
    expect(bed.fleet.hosts[0].state().live).not.toBeNull();
    const status = await bed.run(['status', '--json']);
    expect(JSON.parse(status.stdout).hosts.map((host: any) => host.group)).toEqual(['B', 'B']);
    // The idle group on the previous version is the rollback, not a fleet on two versions.
    expect(JSON.parse(status.stdout).versions).toEqual([v2]);
    const statusText = await bed.run(['status']);
    expect(statusText.output).not.toMatch(/^warning:/m);
    expect(statusText.output).toMatch(/group A is idle, warm for `fleet rollback`: \w{7} on /);
    expect(statusText.output).toMatch(/one version on 1 host\(s\) taking traffic/);

    const before = [historyLength(0), historyLength(1)];
    const rolledBack = await duringLoad(bed.load(), () => bed.run(['rollback']));
    expect(rolledBack.result.exitCode, rolledBack.result.output).toBe(0);
    expect(failures(rolledBack.records), summarizeFailures(rolledBack.records)).toEqual([]);
    expect(await served()).toEqual(['a1 v1']);
    expect([historyLength(0), historyLength(1)]).toEqual(before);
    // Switch first: from the controller's record of the deploy, the hosts confirming after the front moved.
    expect(rolledBack.result.output).toMatch(/switch from group B to group A \(\w{7}\), as this controller's record of fleet \S+ says/);
    expect(rolledBack.result.output).toMatch(/switched to group A \(FLEET_SWITCH_CHECK_CMD passed once\)/);
    const rollbackHistory = JSON.parse((await bed.run(['history', '--json'])).stdout).at(-1);
    expect(rollbackHistory).toMatchObject({ command: 'rollback', outcomes: { [bed.fleet.hosts[0].target]: 'success', [bed.fleet.hosts[1].target]: 'success' } });

    // A stale record (another controller switched since): the hosts do not confirm it, the front goes back at once.
    const recordFile = path.join(bed.dir, '.switchyard-fleet.json');
    const record = JSON.parse(readFileSync(recordFile, 'utf8'));
    writeFileSync(recordFile, JSON.stringify({ ...record, fleetId: '20260101T000000-abcdef' }));
    const stale = await duringLoad(bed.load(), () => bed.run(['rollback']));
    expect(stale.result.exitCode, stale.result.output).toBe(1);
    expect(stale.result.output).toMatch(/the hosts did not confirm this controller's record, so the switch to group B was undone: .*its record says group A live since fleet/);
    expect(stale.result.output).toMatch(/switched back: group A serves as before/);
    expect(failures(stale.records), summarizeFailures(stale.records)).toEqual([]);
    expect(await served()).toEqual(['a1 v1']);
    expect(existsSync(recordFile)).toBe(false);
    expect(JSON.parse((await bed.run(['status', '--json'])).stdout).hosts.map((host: any) => host.group)).toEqual(['A', 'A']);
    // A record of the other group live (another controller rolled back since): the group switched to was live already, so it stays.
    writeFileSync(recordFile, JSON.stringify({ ...record, group: 'B', commit: record.idleCommit, idleCommit: record.commit }));
    const older = await bed.run(['rollback']);
    expect(older.exitCode, older.output).toBe(1);
    expect(older.output).toMatch(/did not confirm this controller's record, so nothing moved: .*group A was live already, as the hosts record: the front stays on it/);
    expect(await served()).toEqual(['a1 v1']);
    expect(existsSync(recordFile)).toBe(false);
    // Without a record, rollback reads every host first, as before; the record is written again.
    const slow = await bed.run(['rollback']);
    expect(slow.exitCode, slow.output).toBe(0);
    expect(slow.output).not.toMatch(/controller's record/);
    expect(await served()).toEqual(['b1 v2']);
    expect(JSON.parse(readFileSync(recordFile, 'utf8'))).toMatchObject({ group: 'B', commit: v2 });
    const back = await bed.run(['rollback']);
    expect(back.exitCode, back.output).toBe(0);
    expect(back.output).toMatch(/as this controller's record of fleet/);
    expect(await served()).toEqual(['a1 v1']);

    bed.commitVersion('v3');
    // A check that says the group cannot serve (exit 3): switched back after its first run, not after 30 s of tries.
    const runs = path.join(bed.dir, 'check-runs');
    const refused = await bed.run(['deploy'], { FLEET_SWITCH_CHECK_CMD: `echo run >> '${runs}'; echo connection refused >&2; exit 3` });
    expect(refused.exitCode, refused.output).toBe(1);
    expect(refused.output).toMatch(/FLEET_SWITCH_CHECK_CMD says group B cannot serve \(exit 3\), so the switch is undone at once.*switched back: group A serves as before/);
    expect(readFileSync(runs, 'utf8')).toBe('run\n');
    expect(await served()).toEqual(['a1 v1']);
    const failed = await bed.run(['deploy'], { FLEET_SWITCH_CHECK_CMD: 'echo the front answered 502 >&2; exit 1' });
    expect(failed.exitCode, failed.output).toBe(1);
    expect(failed.output).toMatch(/the switch to group B failed: FLEET_SWITCH_CHECK_CMD did not pass 3 times in a row.*switched back: group A serves as before/);
    expect(await served()).toEqual(['a1 v1']);
    const after = await bed.run(['status', '--json']);
    expect(JSON.parse(after.stdout).hosts.map((host: any) => host.group)).toEqual(['A', 'A']);
  }, 900_000);

  it('check.sh as shipped: passes for the live group; not ready or not in maint is exit 1, a front that refuses is exit 3', async () => {
    const check = (group: string, url = bed.front.url('/health')) => execa(path.join(TEMPLATES, 'check.sh'), [], {
      env: { SWITCHYARD_GROUP: group, HAPROXY_SOCKET: socket(bed.dir), HAPROXY_BACKEND: 'fleet', HAPROXY_SERVERS_A: 'a1', HAPROXY_SERVERS_B: 'b1', HAPROXY_CHECK_URL: url },
      reject: false,
    });
    const live = await check('A');
    expect(live.exitCode, live.stderr).toBe(0);
    expect(live.stdout).toMatch(/answered by a1, of the live group \(a1\)/);
    const idle = await check('B');
    expect([idle.exitCode, idle.stderr]).toEqual([1, 'haproxy-tool: fleet/b1 is not ready']);
    const refused = await check('A', 'http://127.0.0.1:1/health');
    expect(refused.exitCode, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/ECONNREFUSED/);
  }, 60_000);
});
