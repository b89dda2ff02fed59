import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duringLoad, summarizeFailures, failures } from '../../harness/load.ts';
import { waitFor } from '../../harness/wait.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * The fleet layer on three real hosts: network namespaces, each with its own sshd, /srv, nginx started
 * as root and Switchyard; a real HAProxy in front; an app with no SIGTERM handler; GET, POST and slow
 * POST load through the front. The controller is this machine, reaching the hosts over the system ssh.
 */
describe('a fleet of three hosts', () => {
  let bed: FleetTest;
  let version = 1;

  beforeAll(async () => {
    bed = await startFleetTest({ name: 'swy-fleet-test-', count: 3, front: 'round-robin' });
    // The controller's .env: FLEET_ keys only, no APP_NAME, REPO or DEPLOY_ROOT.
    bed.writeController({ FLEET_BATCH: '100%' });
  }, 300_000);

  afterAll(() => bed?.cleanUp(), 120_000);

  it('--help for each subcommand, and the controller needs only FLEET_ keys', async () => {
    for (const sub of ['deploy', 'rollback', 'status', 'doctor', 'history']) {
      const help = await bed.run([sub, '--help']);
      expect(help.exitCode).toBe(0);
      expect(help.output).toContain(`Usage: ./deploy.ts fleet ${sub}`);
    }
    const first = await bed.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    expect(new Set(bed.liveCommits())).toEqual(new Set([bed.example.head()]));
    expect(first.output).not.toMatch(/APP_NAME is required/);
    // --dry-run: the batches and each host's own plan; nothing changes.
    const states = bed.fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'));
    const dry = await bed.run(['deploy', '--dry-run'], { FLEET_BATCH: '2' });
    expect(dry.exitCode, dry.output).toBe(0);
    // FLEET_CANARY_HOSTS (default 1): one host first, then batches of FLEET_BATCH.
    expect(dry.output).toContain('a first batch of 1 (FLEET_CANARY_HOSTS), batches of 2');
    expect(dry.output).toContain(`batch 1 of 2: ${bed.fleet.hosts[0].target}\n`);
    expect(dry.output).toContain(`batch 2 of 2: ${bed.fleet.hosts[1].target}, ${bed.fleet.hosts[2].target}`);
    for (const host of bed.fleet.hosts) expect(dry.output).toContain(`${host.target} │ live a`);
    expect(bed.fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'))).toEqual(states);
  }, 400_000);

  it('rolling deploy and rollback under load through the front: 0 failed, one version at the end', async () => {
    const v1 = bed.example.head();
    const v2 = bed.commitVersion(`v${++version}`);
    const deployed = await duringLoad(bed.load(12), () => bed.run(['deploy', '--json'], { FLEET_BATCH: '1' }));
    expect(deployed.result.exitCode, deployed.result.output).toBe(0);
    expect(failures(deployed.records), summarizeFailures(deployed.records)).toEqual([]);
    expect(deployed.records.length).toBeGreaterThan(50);
    expect(bed.liveCommits()).toEqual([v2, v2, v2]);
    // --json: every host's events carry the host.
    const events = deployed.result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    for (const host of bed.fleet.hosts) expect(events.some((event) => event.host === host.target && event.event === 'step' && event.step === 'switch' && event.ok)).toBe(true);
    expect(await bed.servedVersions()).toEqual([`v${version}`]);

    const rolledBack = await duringLoad(bed.load(12), () => bed.run(['rollback']));
    expect(rolledBack.result.exitCode, rolledBack.result.output).toBe(0);
    expect(failures(rolledBack.records), summarizeFailures(rolledBack.records)).toEqual([]);
    expect(bed.liveCommits()).toEqual([v1, v1, v1]);
    const status = await bed.run(['status']);
    expect(status.exitCode).toBe(0);
    expect(status.output).toContain(`one version on 3 host(s) taking traffic: ${v1.slice(0, 7)}`);
  }, 800_000);

  it('a release sick on one host: revert puts the switched hosts back (one version); halt leaves two and status says so', async () => {
    const good = bed.liveCommits()[0]!;
    const [goodVersion] = await bed.servedVersions();
    const sick = bed.commitVersion(`v${++version}-sick`);
    writeFileSync(path.join(bed.fleet.hosts[1].srv, 'sick'), '');
    try {
      const reverted = await duringLoad(bed.load(12), () => bed.run(['deploy'], { FLEET_BATCH: '1' }));
      expect(reverted.result.exitCode, reverted.result.output).toBe(1);
      expect(failures(reverted.records), summarizeFailures(reverted.records)).toEqual([]);
      const line = reverted.result.output.split('\n').find((each) => each.startsWith('error: fleet deploy'))!;
      expect(line).toContain(`failed on ${bed.fleet.hosts[1].target} at its health step`);
      expect(line).toContain(`reverted ${bed.fleet.hosts[0].target}`);
      expect(line).toContain(`not touched: ${bed.fleet.hosts[2].target}`);
      expect(bed.liveCommits()).toEqual([good, good, good]);
      expect(await bed.servedVersions()).toEqual([goodVersion]);

      const halted = await bed.run(['deploy', '--', sick], { FLEET_BATCH: '1', FLEET_ON_FAILURE: 'halt' });
      expect(halted.exitCode, halted.output).toBe(1);
      expect(halted.output).toMatch(/FLEET_ON_FAILURE=halt: .* left on .*: the fleet serves two versions/);
      expect(bed.liveCommits()).toEqual([sick, good, good]);
      const status = await bed.run(['status', '--json']);
      const report = JSON.parse(status.stdout);
      expect(report.versions.sort()).toEqual([good, sick].sort());
      expect(report.warnings[0]).toMatch(/^the fleet serves 2 versions/);
    } finally {
      rmSync(path.join(bed.fleet.hosts[1].srv, 'sick'), { force: true });
    }
    const back = await bed.run(['rollback', '--', good]);
    expect(back.exitCode, back.output).toBe(0);
    expect(bed.liveCommits()).toEqual([good, good, good]);
  }, 800_000);

  it('an unreachable host: the preflight fails within seconds, one line per bad host, nothing changes anywhere', async () => {
    const before = bed.fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'));
    bed.commitVersion(`v${++version}`);
    await bed.fleet.hosts[2].stopSshd();
    try {
      const result = await bed.run(['deploy']);
      expect(result.exitCode, result.output).toBe(1);
      expect(result.output).toContain(`error: ${bed.fleet.hosts[2].target}: cannot be reached over ssh`);
      expect(result.output).toMatch(/preflight failed on 1 of 3 host\(s\).*nothing was changed on any host/);
      expect(bed.fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'))).toEqual(before);
      // The leases taken on the reachable hosts were given back.
      for (const host of bed.fleet.hosts) expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease'))).toBe(false);
      const doctor = await bed.run(['doctor']);
      expect(doctor.exitCode, doctor.output).toBe(1);
      expect(doctor.output).toContain(`${bed.fleet.hosts[2].target} │ ✖ cannot be reached over ssh`);
      expect(doctor.output).toContain(`${bed.fleet.hosts[0].target} │ ✔ reached, Switchyard`);
    } finally {
      await bed.fleet.hosts[2].startSshd();
    }
  }, 400_000);

  it('Ctrl-C mid-rollout: the batch running finishes, no further batch starts, the switched host is put back, the leases are given back (exit 130)', async () => {
    const before = bed.liveCommits();
    expect(new Set(before).size).toBe(1);
    const target = bed.commitVersion(`v${++version}`);
    // The check after the first batch waits; the Ctrl-C lands while it does.
    const checking = path.join(bed.dir, 'checking');
    const interrupted = bed.command(['deploy'], { FLEET_BATCH: '1', FLEET_CHECK_CMD: `touch '${checking}'; while :; do sleep 0.05; done` });
    await waitFor('the check after the first batch', () => existsSync(checking), { timeoutMs: 120_000 });
    expect(bed.liveCommits()).toEqual([target, before[1], before[2]]);
    process.kill(interrupted.pid!, 'SIGINT');
    const result = await interrupted;
    expect(result.exitCode, result.all).toBe(130);
    expect(result.all).toContain('SIGINT received: the hosts deploying now finish their own cycle');
    expect(result.all).toMatch(new RegExp(`stopped, interrupted by SIGINT, .*reverted ${bed.fleet.hosts[0].target.replace(/[.:/]/g, '\\$&')}.*not touched: ${bed.fleet.hosts.slice(1).map((host) => host.target.replace(/[.:/]/g, '\\$&')).join(', ')}`));
    expect(bed.liveCommits()).toEqual(before);
    for (const host of bed.fleet.hosts) expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease')), host.target).toBe(false);
    const history = JSON.parse((await bed.run(['history', '--json'])).stdout);
    expect(history.at(-1)).toMatchObject({ command: 'deploy', commit: target });
    expect(Object.values(history.at(-1).outcomes)).toEqual(['reverted', 'reverted', 'reverted']);
  }, 400_000);

  it('the lease: a second fleet deploy exits 75 naming the first, a host-level deploy is refused, a SIGKILLed controller is taken over', async () => {
    const target = bed.commitVersion(`v${++version}`);
    // The first batch's check waits for the test: the rollout (one session per host, quick) holds the fleet meanwhile.
    const go = path.join(bed.dir, 'lease-checked');
    const first = bed.command(['deploy'], { FLEET_BATCH: '1', FLEET_CHECK_CMD: `while [ ! -e '${go}' ]; do sleep 0.05; done` });
    const lease = path.join(bed.fleet.hosts[2].deployRootOutside, 'fleet.lease');
    await waitFor('the fleet lease on the third host', () => existsSync(lease), { timeoutMs: 120_000 });
    const holder = JSON.parse(readFileSync(lease, 'utf8'));
    const second = await bed.run(['deploy']);
    expect(second.exitCode, second.output).toBe(75);
    expect(second.output).toContain(`another fleet command holds the fleet`);
    expect(second.output).toContain(holder.id);
    const local = await bed.fleet.hosts[2].run(['deploy']);
    expect(local.exitCode, local.output).toBe(75);
    expect(local.output).toContain(`this host is part of a running fleet deploy ${holder.id}`);
    writeFileSync(go, '');
    const done = await first;
    expect(done.exitCode, done.all).toBe(0);
    expect(bed.liveCommits()).toEqual([target, target, target]);

    // A controller killed mid-rollout: its host deploy ends on its own, the lease stays; the next fleet command takes it over.
    const next = bed.commitVersion(`v${++version}`);
    const killed = bed.command(['deploy'], { FLEET_BATCH: '1' });
    await waitFor('the rollout on the first host', () => {
      try {
        return bed.fleet.hosts[0].state().journal !== null;
      } catch {
        return false;
      }
    }, { timeoutMs: 120_000 });
    process.kill(killed.pid!, 'SIGKILL');
    await killed;
    await waitFor('the orphaned host deploy to end', () => bed.fleet.hosts.every((host) => host.state().journal === null), { timeoutMs: 120_000 });
    expect(existsSync(lease)).toBe(true);
    const recovered = await bed.run(['deploy']);
    expect(recovered.exitCode, recovered.output).toBe(0);
    expect(bed.liveCommits()).toEqual([next, next, next]);
    const history = await bed.run(['history', '--json']);
    const entries = JSON.parse(history.stdout);
    expect(entries.at(-1)).toMatchObject({ command: 'deploy', commit: next });
    expect(Object.values(entries.at(-1).outcomes)).toEqual(['success', 'success', 'success']);
  }, 800_000);
});
