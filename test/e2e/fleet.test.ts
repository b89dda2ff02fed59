import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { duringLoad, summarizeFailures, failures } from '../../harness/load.ts';
import { createNetnsFleet, startFront, waitFor, type FleetFront, type NetnsFleet } from '../../harness/netns.ts';
import { freePort } from '../../harness/ports.ts';

/**
 * The fleet layer on three real hosts: network namespaces, each with its own sshd, /srv, nginx started
 * as root and Switchyard; a real HAProxy in front; an app with no SIGTERM handler; GET, POST and slow
 * POST load through the front. The controller is this machine, reaching the hosts over the system ssh.
 */
const fleetApp = new URL('../fixtures/apps/fleet-app.js', import.meta.url).pathname;
const LOAD = {
  connections: 12,
  mix: { fast: 0.6, post: 0.2, slowpost: 0.2 },
  slowMs: [200, 800] as [number, number],
  maxDurationMs: 300_000,
  leadMs: 800,
  tailMs: 500,
};

describe('a fleet of three hosts', () => {
  let fleet: NetnsFleet;
  let front: FleetFront;
  let dir: string;
  let example: ReturnType<typeof createExampleRepo>;
  let envFile: string;
  let version = 1;
  const commitVersion = (name: string) => example.commit(name, (repo) => copyFileSync(fleetApp, path.join(repo, 'server.js')));

  // XDG_RUNTIME_DIR: the controller's ssh control folders go in the test's own folder, even the one a SIGKILLed controller leaves.
  const fleetCommand = (args: string[], env: Record<string, string> = {}): ResultPromise<{ all: true; reject: false }> =>
    execa(DEPLOY_TS, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', XDG_RUNTIME_DIR: dir, ...env }, reject: false, all: true, timeout: 400_000 }) as any;
  const fleetRun = async (args: string[], env: Record<string, string> = {}) => {
    const result = await fleetCommand(args, env);
    return { exitCode: result.exitCode ?? -1, output: result.all ?? '', stdout: String(result.stdout ?? '') };
  };
  const liveCommits = () => fleet.hosts.map((host) => {
    const state = host.state();
    return state.live ? state.slots[state.live].commit : null;
  });
  /** What the front serves now: the versions of 30 answers on fresh connections. */
  const servedVersions = async () => {
    const versions = new Set<string>();
    for (let index = 0; index < 30; index++) versions.add((await (await fetch(front.url('/'), { headers: { connection: 'close' } })).json()).version);
    return [...versions].sort();
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'swy-fleet-test-'));
    example = createExampleRepo(path.join(dir, 'repo'));
    commitVersion('v1');
    fleet = await createNetnsFleet({ count: 3, repo: example.repo });
    front = await startFront(dir, fleet.hosts.map((host) => host.address), await freePort());
    envFile = path.join(dir, 'fleet.env');
    // The controller's .env: FLEET_ keys only, no APP_NAME, REPO or DEPLOY_ROOT.
    writeFileSync(envFile, [
      `FLEET_HOSTS="${fleet.hosts.map((host) => host.target).join(', ')}"`,
      `FLEET_SSH_CONFIG=${fleet.sshConfig}`,
      'FLEET_REMOTE=/srv/switchyard/deploy.ts',
      'FLEET_BATCH=100%',
      '',
    ].join('\n'));
  }, 300_000);

  afterAll(async () => {
    await front?.stop();
    await fleet?.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('--help for each subcommand, and the controller needs only FLEET_ keys', async () => {
    for (const sub of ['deploy', 'rollback', 'status', 'doctor', 'history']) {
      const help = await fleetRun([sub, '--help']);
      expect(help.exitCode).toBe(0);
      expect(help.output).toContain(`Usage: ./deploy.ts fleet ${sub}`);
    }
    const first = await fleetRun(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    expect(new Set(liveCommits())).toEqual(new Set([example.head()]));
    expect(first.output).not.toMatch(/APP_NAME is required/);
    // --dry-run: the batches and each host's own plan; nothing changes.
    const states = fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'));
    const dry = await fleetRun(['deploy', '--dry-run'], { FLEET_BATCH: '2' });
    expect(dry.exitCode, dry.output).toBe(0);
    // FLEET_CANARY_HOSTS (default 1): one host first, then batches of FLEET_BATCH.
    expect(dry.output).toContain('a first batch of 1 (FLEET_CANARY_HOSTS), batches of 2');
    expect(dry.output).toContain(`batch 1 of 2: ${fleet.hosts[0].target}\n`);
    expect(dry.output).toContain(`batch 2 of 2: ${fleet.hosts[1].target}, ${fleet.hosts[2].target}`);
    for (const host of fleet.hosts) expect(dry.output).toContain(`${host.target} │ live a`);
    expect(fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'))).toEqual(states);
  }, 400_000);

  it('rolling deploy and rollback under load through the front: 0 failed, one version at the end', async () => {
    const v1 = example.head();
    const v2 = commitVersion(`v${++version}`);
    const deployed = await duringLoad({ port: front.port, ...LOAD }, () => fleetRun(['deploy', '--json'], { FLEET_BATCH: '1' }));
    expect(deployed.result.exitCode, deployed.result.output).toBe(0);
    expect(failures(deployed.records), summarizeFailures(deployed.records)).toEqual([]);
    expect(deployed.records.length).toBeGreaterThan(50);
    expect(liveCommits()).toEqual([v2, v2, v2]);
    // --json: every host's events carry the host.
    const events = deployed.result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    for (const host of fleet.hosts) expect(events.some((event) => event.host === host.target && event.event === 'step' && event.step === 'switch' && event.ok)).toBe(true);
    expect(await servedVersions()).toEqual([`v${version}`]);

    const rolledBack = await duringLoad({ port: front.port, ...LOAD }, () => fleetRun(['rollback']));
    expect(rolledBack.result.exitCode, rolledBack.result.output).toBe(0);
    expect(failures(rolledBack.records), summarizeFailures(rolledBack.records)).toEqual([]);
    expect(liveCommits()).toEqual([v1, v1, v1]);
    const status = await fleetRun(['status']);
    expect(status.exitCode).toBe(0);
    expect(status.output).toContain(`one version on 3 host(s) taking traffic: ${v1.slice(0, 7)}`);
  }, 800_000);

  it('a release sick on one host: revert puts the switched hosts back (one version); halt leaves two and status says so', async () => {
    const good = liveCommits()[0]!;
    const [goodVersion] = await servedVersions();
    const sick = commitVersion(`v${++version}-sick`);
    writeFileSync(path.join(fleet.hosts[1].srv, 'sick'), '');
    try {
      const reverted = await duringLoad({ port: front.port, ...LOAD }, () => fleetRun(['deploy'], { FLEET_BATCH: '1' }));
      expect(reverted.result.exitCode, reverted.result.output).toBe(1);
      expect(failures(reverted.records), summarizeFailures(reverted.records)).toEqual([]);
      const line = reverted.result.output.split('\n').find((each) => each.startsWith('error: fleet deploy'))!;
      expect(line).toContain(`failed on ${fleet.hosts[1].target} at its health step`);
      expect(line).toContain(`reverted ${fleet.hosts[0].target}`);
      expect(line).toContain(`not touched: ${fleet.hosts[2].target}`);
      expect(liveCommits()).toEqual([good, good, good]);
      expect(await servedVersions()).toEqual([goodVersion]);

      const halted = await fleetRun(['deploy', '--', sick], { FLEET_BATCH: '1', FLEET_ON_FAILURE: 'halt' });
      expect(halted.exitCode, halted.output).toBe(1);
      expect(halted.output).toMatch(/FLEET_ON_FAILURE=halt: .* left on .*: the fleet serves two versions/);
      expect(liveCommits()).toEqual([sick, good, good]);
      const status = await fleetRun(['status', '--json']);
      const report = JSON.parse(status.stdout);
      expect(report.versions.sort()).toEqual([good, sick].sort());
      expect(report.warnings[0]).toMatch(/^the fleet serves 2 versions/);
    } finally {
      rmSync(path.join(fleet.hosts[1].srv, 'sick'), { force: true });
    }
    const back = await fleetRun(['rollback', '--', good]);
    expect(back.exitCode, back.output).toBe(0);
    expect(liveCommits()).toEqual([good, good, good]);
  }, 800_000);

  it('an unreachable host: the preflight fails within seconds, one line per bad host, nothing changes anywhere', async () => {
    const before = fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'));
    commitVersion(`v${++version}`);
    await fleet.hosts[2].stopSshd();
    try {
      const result = await fleetRun(['deploy']);
      expect(result.exitCode, result.output).toBe(1);
      expect(result.output).toContain(`error: ${fleet.hosts[2].target}: cannot be reached over ssh`);
      expect(result.output).toMatch(/preflight failed on 1 of 3 host\(s\).*nothing was changed on any host/);
      expect(fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'state.json'), 'utf8'))).toEqual(before);
      // The leases taken on the reachable hosts were given back.
      for (const host of fleet.hosts) expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease'))).toBe(false);
      const doctor = await fleetRun(['doctor']);
      expect(doctor.exitCode, doctor.output).toBe(1);
      expect(doctor.output).toContain(`${fleet.hosts[2].target} │ ✖ cannot be reached over ssh`);
      expect(doctor.output).toContain(`${fleet.hosts[0].target} │ ✔ reached, Switchyard`);
    } finally {
      await fleet.hosts[2].startSshd();
    }
  }, 400_000);

  it('Ctrl-C mid-rollout: the batch running finishes, no further batch starts, the switched host is put back, the leases are given back (exit 130)', async () => {
    const before = liveCommits();
    expect(new Set(before).size).toBe(1);
    const target = commitVersion(`v${++version}`);
    // The check after the first batch waits; the Ctrl-C lands while it does.
    const checking = path.join(dir, 'checking');
    const interrupted = fleetCommand(['deploy'], { FLEET_BATCH: '1', FLEET_CHECK_CMD: `touch '${checking}'; while :; do sleep 0.05; done` });
    await waitFor('the check after the first batch', () => existsSync(checking), 120_000);
    expect(liveCommits()).toEqual([target, before[1], before[2]]);
    process.kill(interrupted.pid!, 'SIGINT');
    const result = await interrupted;
    expect(result.exitCode, result.all).toBe(130);
    expect(result.all).toContain('SIGINT received: the hosts deploying now finish their own cycle');
    expect(result.all).toMatch(new RegExp(`stopped, interrupted by SIGINT, .*reverted ${fleet.hosts[0].target.replace(/[.:/]/g, '\\$&')}.*not touched: ${fleet.hosts.slice(1).map((host) => host.target.replace(/[.:/]/g, '\\$&')).join(', ')}`));
    expect(liveCommits()).toEqual(before);
    for (const host of fleet.hosts) expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease')), host.target).toBe(false);
    const history = JSON.parse((await fleetRun(['history', '--json'])).stdout);
    expect(history.at(-1)).toMatchObject({ command: 'deploy', commit: target });
    expect(Object.values(history.at(-1).outcomes)).toEqual(['reverted', 'reverted', 'reverted']);
  }, 400_000);

  it('the lease: a second fleet deploy exits 75 naming the first, a host-level deploy is refused, a SIGKILLed controller is taken over', async () => {
    const target = commitVersion(`v${++version}`);
    // The first batch's check waits for the test: the rollout (one session per host, quick) holds the fleet meanwhile.
    const go = path.join(dir, 'lease-checked');
    const first = fleetCommand(['deploy'], { FLEET_BATCH: '1', FLEET_CHECK_CMD: `while [ ! -e '${go}' ]; do sleep 0.05; done` });
    const lease = path.join(fleet.hosts[2].deployRootOutside, 'fleet.lease');
    await waitFor('the fleet lease on the third host', () => existsSync(lease), 120_000);
    const holder = JSON.parse(readFileSync(lease, 'utf8'));
    const second = await fleetRun(['deploy']);
    expect(second.exitCode, second.output).toBe(75);
    expect(second.output).toContain(`another fleet command holds the fleet`);
    expect(second.output).toContain(holder.id);
    const local = await fleet.hosts[2].run(['deploy']);
    expect(local.exitCode, local.output).toBe(75);
    expect(local.output).toContain(`this host is part of a running fleet deploy ${holder.id}`);
    writeFileSync(go, '');
    const done = await first;
    expect(done.exitCode, done.all).toBe(0);
    expect(liveCommits()).toEqual([target, target, target]);

    // A controller killed mid-rollout: its host deploy ends on its own, the lease stays; the next fleet command takes it over.
    const next = commitVersion(`v${++version}`);
    const killed = fleetCommand(['deploy'], { FLEET_BATCH: '1' });
    await waitFor('the rollout on the first host', () => {
      try {
        return fleet.hosts[0].state().journal !== null;
      } catch {
        return false;
      }
    }, 120_000);
    process.kill(killed.pid!, 'SIGKILL');
    await killed;
    await waitFor('the orphaned host deploy to end', () => fleet.hosts.every((host) => host.state().journal === null), 120_000);
    expect(existsSync(lease)).toBe(true);
    const recovered = await fleetRun(['deploy']);
    expect(recovered.exitCode, recovered.output).toBe(0);
    expect(liveCommits()).toEqual([next, next, next]);
    const history = await fleetRun(['history', '--json']);
    const entries = JSON.parse(history.stdout);
    expect(entries.at(-1)).toMatchObject({ command: 'deploy', commit: next });
    expect(Object.values(entries.at(-1).outcomes)).toEqual(['success', 'success', 'success']);
  }, 800_000);
});
