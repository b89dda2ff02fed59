import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';
import { waitFor } from '../../harness/wait.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * templates/ansible/site-deploy.yml run by Debian's ansible-playbook against three real hosts (harness/netns.ts:
 * each its own sshd, /srv, nginx and Switchyard), a real HAProxy in front and load through it, as
 * test/e2e/fleet.test.ts does for ./deploy.ts fleet: a good commit everywhere, a commit sick on one host that ends on
 * one version, and the fleet lease shared with ./deploy.ts fleet both ways.
 */
const PLAYBOOK = fileURLToPath(new URL('../../templates/ansible/site-deploy.yml', import.meta.url));
function requireAnsible(): void {
  if (spawnSync('sh', ['-c', 'command -v ansible-playbook']).status !== 0) {
    throw new Error('test/e2e/fleet-ansible.test.ts runs templates/ansible/ with Debian\'s ansible-playbook: apt-get install ansible (.ci/run does it)');
  }
}

describe('templates/ansible on three hosts', () => {
  let bed: FleetTest;
  let dir: string;
  let fleet: FleetTest['fleet'];
  let inventory: string;
  let ansibleEnv: Record<string, string>;
  let version = 1;

  const ansible = (extra: string[] = []) =>
    execa('ansible-playbook', ['-i', inventory, PLAYBOOK, ...extra], { env: ansibleEnv, reject: false, all: true, timeout: 400_000 });
  const ansibleRun = async (extra: string[] = []) => {
    const result = await ansible(extra);
    return { exitCode: result.exitCode ?? -1, output: result.all ?? '' };
  };
  const leases = () => fleet.hosts.filter((host) => existsSync(path.join(host.deployRootOutside, 'fleet.lease'))).map((host) => host.target);
  const lastRecords = () => fleet.hosts.map((host) => JSON.parse(readFileSync(path.join(host.deployRootOutside, 'fleet-history.jsonl'), 'utf8').trim().split('\n').at(-1)!));

  beforeAll(async () => {
    requireAnsible();
    bed = await startFleetTest({ name: 'swy-ansible-', count: 3, front: 'round-robin' });
    ({ dir, fleet } = bed);
    bed.writeController();
    // Named h1, h2, h3: the same order as FLEET_HOSTS, so both take the first lease on the same host.
    inventory = path.join(dir, 'inventory.ini');
    writeFileSync(inventory, [
      '[switchyard]',
      ...fleet.hosts.map((host) => `h${host.index} ansible_host=${host.address}`),
      '[switchyard:vars]',
      'ansible_user=root',
      'ansible_python_interpreter=/usr/bin/python3',
      'switchyard_command=/srv/switchyard/deploy.ts',
      '',
    ].join('\n'));
    // Everything ansible keeps on this machine lies in the test's folder; its ssh uses the hosts' keys and known_hosts.
    mkdirSync(path.join(dir, 'cp'));
    writeFileSync(path.join(dir, 'ansible.cfg'), [
      '[defaults]', `local_tmp = ${dir}/ansible-tmp`, 'forks = 10', 'retry_files_enabled = false',
      '[ssh_connection]', `ssh_args = -F ${fleet.sshConfig} -o ControlMaster=auto -o ControlPersist=60s`,
      `control_path_dir = ${dir}/cp`, 'control_path = %(directory)s/%%C', 'pipelining = true', '',
    ].join('\n'));
    ansibleEnv = { ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'), ANSIBLE_HOME: path.join(dir, 'ansible-home'), ANSIBLE_NOCOLOR: '1' };
    const first = await ansibleRun();
    if (first.exitCode !== 0) throw new Error(`the first deploy by ansible-playbook failed:\n${first.output}`);
  }, 400_000);

  afterAll(async () => {
    // Ansible's shared ssh connections outlive it (ControlPersist): closed here, before the hosts go.
    for (const host of fleet?.hosts ?? []) {
      spawnSync('ssh', ['-F', fleet.sshConfig, '-o', `ControlPath=${dir}/cp/%C`, '-O', 'exit', `root@${host.address}`], { stdio: 'ignore' });
    }
    await bed?.cleanUp();
  }, 120_000);

  it('a good commit under load: every host ends on it, 0 failed requests, the outcome recorded as the fleet records it', async () => {
    expect(new Set(bed.liveCommits())).toEqual(new Set([bed.example.head()]));
    const v2 = bed.commitVersion(`v${++version}`);
    const deployed = await duringLoad(bed.load(12), () => ansibleRun());
    expect(deployed.result.exitCode, deployed.result.output).toBe(0);
    expect(failures(deployed.records), summarizeFailures(deployed.records)).toEqual([]);
    expect(deployed.records.length).toBeGreaterThan(50);
    expect(bed.liveCommits()).toEqual([v2, v2, v2]);
    expect(deployed.result.output).toContain(`fleet deploy ${v2.slice(0, 7)} done on 3 host(s): h1, h2, h3`);
    expect(await bed.servedVersions()).toEqual([`v${version}`]);
    expect(leases()).toEqual([]);
    // The record ./deploy.ts fleet history reads: Ansible's run is one of the fleet's.
    const history = JSON.parse((await bed.command(['history', '--json'])).stdout);
    expect(history.at(-1)).toMatchObject({ command: 'deploy', commit: v2 });
    expect(history.at(-1).id).toMatch(/^ansible-/);
    expect(Object.values(history.at(-1).outcomes)).toEqual(['success', 'success', 'success']);

    // One measure, printed, not asserted: this run against ./deploy.ts fleet, one host at a time, no load.
    const v3 = bed.commitVersion(`v${++version}`);
    let started = Date.now();
    const byAnsible = await ansibleRun();
    const ansibleS = (Date.now() - started) / 1000;
    expect(byAnsible.exitCode, byAnsible.output).toBe(0);
    const v4 = bed.commitVersion(`v${++version}`);
    started = Date.now();
    const byFleet = await bed.command(['deploy'], { FLEET_BATCH: '1' });
    const fleetS = (Date.now() - started) / 1000;
    expect(byFleet.exitCode, byFleet.all).toBe(0);
    expect(bed.liveCommits()).toEqual([v4, v4, v4]);
    expect(v3).not.toBe(v4);
    console.log(`3 hosts, one at a time: ansible-playbook site-deploy.yml ${ansibleS.toFixed(1)} s, ./deploy.ts fleet deploy ${fleetS.toFixed(1)} s (load average ${os.loadavg()[0].toFixed(1)})`);
  }, 900_000);

  it('a commit sick on one host: the run fails with one line, every host ends on the previous version, the leases are given back, 0 failed', async () => {
    const good = bed.liveCommits()[0]!;
    const [goodVersion] = await bed.servedVersions();
    const sick = bed.commitVersion(`v${++version}-sick`);
    writeFileSync(path.join(fleet.hosts[1].srv, 'sick'), '');
    try {
      const run = await duringLoad(bed.load(12), () => ansibleRun());
      expect(run.result.exitCode, run.result.output).toBe(2);
      expect(failures(run.records), summarizeFailures(run.records)).toEqual([]);
      expect(run.result.output).toContain(`fleet deploy ${sick.slice(0, 7)} failed on h2 at its health step`);
      expect(run.result.output).toMatch(/reverted h1 to the release each served before; not touched: h3"/);
      expect(bed.liveCommits()).toEqual([good, good, good]);
      expect(await bed.servedVersions()).toEqual([goodVersion]);
      expect(leases()).toEqual([]);
      const records = lastRecords();
      expect(records.map((record) => [record.commit, record.outcome])).toEqual([[sick, 'reverted'], [sick, 'reverted'], [sick, 'reverted']]);
      expect(records[0].reason).toContain('failed on h2 at its health step');
    } finally {
      rmSync(path.join(fleet.hosts[1].srv, 'sick'), { force: true });
    }
  }, 800_000);

  it('the lease: ./deploy.ts fleet and a host deploy are refused while Ansible holds it, and Ansible while the fleet does', async () => {
    const target = bed.commitVersion(`v${++version}`);
    const running = ansible();
    const lease = path.join(fleet.hosts[2].deployRootOutside, 'fleet.lease');
    await waitFor('the fleet lease Ansible takes on the last host', () => existsSync(lease), { timeoutMs: 120_000 });
    const held = JSON.parse(readFileSync(lease, 'utf8'));
    expect(held.id).toMatch(/^ansible-/);
    const refused = await bed.command(['deploy']);
    expect(refused.exitCode, refused.all).toBe(75);
    expect(refused.all).toContain(`another fleet command holds the fleet`);
    expect(refused.all).toContain(held.id);
    const local = await fleet.hosts[2].run(['deploy']);
    expect(local.exitCode, local.output).toBe(75);
    expect(local.output).toContain(`this host is part of a running fleet deploy ${held.id}`);
    const done = await running;
    expect(done.exitCode, done.all).toBe(0);
    expect(bed.liveCommits()).toEqual([target, target, target]);

    // The reverse: ./deploy.ts fleet holds the lease (its check after the first batch waits); Ansible takes nothing and changes nothing.
    const next = bed.commitVersion(`v${++version}`);
    const checking = path.join(dir, 'checking');
    const proceed = path.join(dir, 'proceed');
    const fleetRun = bed.command(['deploy'], { FLEET_BATCH: '1', FLEET_CHECK_CMD: `touch '${checking}'; while [ ! -e '${proceed}' ]; do sleep 0.05; done` });
    try {
      await waitFor('the check after the fleet\'s first batch', () => existsSync(checking), { timeoutMs: 120_000 });
      const fleetLease = JSON.parse(readFileSync(lease, 'utf8'));
      const before = fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'));
      const blocked = await ansibleRun();
      expect(blocked.exitCode, blocked.output).toBe(2);
      expect(blocked.output).toContain(`another fleet command holds the fleet: h1 is held by a running fleet deploy ${fleetLease.id}`);
      expect(blocked.output).toContain('nothing was changed on any host');
      expect(fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'))).toEqual(before);
      expect(fleet.hosts.map((host) => JSON.parse(readFileSync(path.join(host.deployRootOutside, 'fleet.lease'), 'utf8')).id)).toEqual([fleetLease.id, fleetLease.id, fleetLease.id]);
    } finally {
      writeFileSync(proceed, '');
    }
    const fleetDone = await fleetRun;
    expect(fleetDone.exitCode, fleetDone.all).toBe(0);
    expect(bed.liveCommits()).toEqual([next, next, next]);
    expect(leases()).toEqual([]);
  }, 800_000);
});
