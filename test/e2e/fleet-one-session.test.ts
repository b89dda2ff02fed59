import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { createNetnsFleet, type NetnsFleet, type NetnsHost } from '../../harness/netns.ts';
import { waitFor } from '../../harness/wait.ts';

/**
 * Issue #30: a rollout talks to each host through ONE ssh command and ONE Node start of Switchyard
 * (`fleet session`: probe, lease, deploy, release). Counted on the hosts themselves: FLEET_REMOTE is a
 * wrapper that logs each invocation, and NODE_OPTIONS there makes every Node process log its script.
 */
const fleetApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;

describe('one session per host per rollout', () => {
  let fleet: NetnsFleet;
  let dir: string;
  let example: ReturnType<typeof createExampleRepo>;
  let envFile: string;
  let version = 1;
  const commitVersion = () => example.commit(`v${++version}`, (repo) => copyFileSync(fleetApp, path.join(repo, 'server.js')));
  const fleetCommand = (args: string[], env: Record<string, string> = {}) =>
    execa(DEPLOY_TS, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', XDG_RUNTIME_DIR: dir, ...env }, reject: false, all: true, timeout: 300_000 });
  const liveCommits = () => fleet.hosts.map((host) => {
    const state = host.state();
    return state.live ? state.slots[state.live].commit : null;
  });
  const invocations = (host: NetnsHost) => readLines(path.join(host.srv, 'remote.log'));
  // Switchyard's own Node starts (its bundle or deploy.ts), not the app's `node server.js` or `node build.js`.
  const switchyardStarts = (host: NetnsHost) => readLines(path.join(host.srv, 'node-starts.log')).filter((script) => script.startsWith('/srv/switchyard/'));
  const clearCounts = () => fleet.hosts.forEach((host) => ['remote.log', 'node-starts.log'].forEach((file) => rmSync(path.join(host.srv, file), { force: true })));
  /**
   * ssh processes of the controller (their control folder is in `dir`, its XDG_RUNTIME_DIR) still running, and
   * sockets left in those folders (an empty folder is what a SIGKILLed controller leaves: nothing runs there).
   */
  const connectionsLeft = () => {
    const processes = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/swy-ssh-`);
      } catch {
        return false;
      }
    });
    const sockets = readdirSync(dir).filter((entry) => entry.startsWith('swy-ssh-')).flatMap((folder) => readdirSync(path.join(dir, folder)).map((entry) => `${folder}/${entry}`));
    return [...processes.map((pid) => `ssh pid ${pid}`), ...sockets];
  };
  /** The `fleet session` processes running on a host (its network namespace). */
  const sessionsOn = (host: NetnsHost) => spawnSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes('fleet session');
    } catch {
      return false;
    }
  });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'swy-fleet-one-'));
    example = createExampleRepo(path.join(dir, 'repo'));
    commitVersion();
    fleet = await createNetnsFleet({ count: 3, repo: example.repo });
    for (const host of fleet.hosts) {
      writeFileSync(path.join(host.srv, 'count-node.mjs'), "import { appendFileSync } from 'node:fs';\nappendFileSync('/srv/node-starts.log', `${process.argv[1]}\\n`);\n");
      // The operator's FLEET_REMOTE may be any command that ends in Switchyard: this one logs each ssh command first.
      writeFileSync(path.join(host.srv, 'remote.sh'), [
        '#!/bin/sh',
        'echo "$*" >> /srv/remote.log',
        'NODE_OPTIONS="--import=file:///srv/count-node.mjs" exec /srv/switchyard/deploy.ts "$@"',
        '',
      ].join('\n'));
      chmodSync(path.join(host.srv, 'remote.sh'), 0o755);
    }
    envFile = path.join(dir, 'fleet.env');
    writeFileSync(envFile, [
      `FLEET_HOSTS="${fleet.hosts.map((host) => host.target).join(' ')}"`,
      `FLEET_SSH_CONFIG=${fleet.sshConfig}`,
      'FLEET_REMOTE=/srv/remote.sh',
      'FLEET_BATCH=1',
      '',
    ].join('\n'));
  }, 300_000);

  afterAll(async () => {
    await fleet?.cleanUp();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('a rolling deploy of three hosts, and a no-op one: one ssh command and one Node start of Switchyard per host each', async () => {
    for (const shape of ['first', 'no-op'] as const) {
      clearCounts();
      const deployed = await fleetCommand(['deploy']);
      expect(deployed.exitCode, deployed.all).toBe(0);
      if (shape === 'no-op') expect(deployed.all).toContain('nothing to do there');
      expect(liveCommits()).toEqual(fleet.hosts.map(() => example.head()));
      for (const host of fleet.hosts) {
        expect(invocations(host), `${host.target} (${shape})`).toEqual(['fleet session --json']);
        expect(switchyardStarts(host), `${host.target} (${shape})`).toHaveLength(1);
        expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease')), host.target).toBe(false);
        expect(sessionsOn(host), host.target).toEqual([]);
      }
      expect(connectionsLeft(), `after the ${shape} deploy`).toEqual([]);
    }
    // `fleet status` shares a connection per host kept in the background: closed at its end all the same.
    const status = await fleetCommand(['status']);
    expect(status.exitCode, status.all).toBe(0);
    expect(connectionsLeft(), 'after fleet status').toEqual([]);
    const history = JSON.parse((await fleetCommand(['history', '--json'])).stdout);
    expect(Object.values(history.at(-1).outcomes)).toEqual(['success', 'success', 'success']);
  }, 600_000);

  it('a malformed or unknown request is answered with one JSON error; the session goes on and ends when its input does', async () => {
    const host = fleet.hosts[0];
    const requests = ['not json', '{"op":"reboot"}', '{"op":"run","argv":["exec","--","sh"]}', '{"op":"probe"}', ''].join('\n');
    const session = await execa('ssh', ['-F', fleet.sshConfig, '-T', '-o', 'BatchMode=yes', `root@${host.address}`, '/srv/switchyard/deploy.ts fleet session --json'], { input: requests, reject: false, timeout: 60_000 });
    expect(session.exitCode, session.stderr).toBe(0);
    const answers = session.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(answers.slice(0, 3)).toEqual([
      { session: 'error', error: expect.stringContaining('not a JSON request') },
      { session: 'error', error: expect.stringContaining('unknown op "reboot"') },
      { session: 'error', error: expect.stringContaining('"exec" is not a command a session runs') },
    ]);
    expect(answers[3]).toMatchObject({ session: 'done', exitCode: 0, answer: { app: 'fleetapp', commit: example.head() } });
    expect(answers).toHaveLength(4);
  }, 120_000);

  it('a controller SIGKILLed mid-rollout: the sessions end by themselves, the host deploying finishes, every host serves; the next deploy takes over', async () => {
    const target = commitVersion();
    const before = liveCommits();
    const killed = fleetCommand(['deploy']);
    await waitFor('the rollout on the first host', () => {
      try {
        return fleet.hosts[0].state().journal !== null;
      } catch {
        return false;
      }
    }, { timeoutMs: 120_000 });
    expect(fleet.hosts.every((host) => sessionsOn(host).length === 1)).toBe(true);
    process.kill(killed.pid!, 'SIGKILL');
    await killed;
    // A host cycle is never cut halfway: the first host finishes its deploy; the waiting hosts' sessions end at once.
    await waitFor('every session to end by itself', () => fleet.hosts.every((host) => sessionsOn(host).length === 0), { timeoutMs: 180_000 });
    for (const host of fleet.hosts) expect(host.state().journal, host.target).toBeNull();
    expect(liveCommits()).toEqual([target, before[1], before[2]]);
    // The lease is left to expire (or to be taken over from this machine, as here).
    expect(existsSync(path.join(fleet.hosts[1].deployRootOutside, 'fleet.lease'))).toBe(true);
    const recovered = await fleetCommand(['deploy']);
    expect(recovered.exitCode, recovered.all).toBe(0);
    expect(liveCommits()).toEqual([target, target, target]);
  }, 600_000);

  it('blue-green: a deploy (resolve and live group included) is one session per host; a rollback, from the record or reading the hosts, too', async () => {
    const [a, ...b] = fleet.hosts;
    const switched = path.join(dir, 'switched.log');
    const blueGreen = {
      FLEET_STRATEGY: 'blue-green',
      FLEET_GROUP_A: a.target,
      FLEET_GROUP_B: b.map((host) => host.target).join(' '),
      FLEET_SWITCH_CMD: `echo "$SWITCHYARD_GROUP" >> '${switched}'`,
    };
    const liveGroups = () => fleet.hosts.map((host) => JSON.parse(readFileSync(path.join(host.deployRootOutside, 'fleet-group.json'), 'utf8')).group);
    for (const to of ['A', 'B'] as const) {
      commitVersion();
      clearCounts();
      const deployed = await fleetCommand(['deploy'], blueGreen);
      expect(deployed.exitCode, deployed.all).toBe(0);
      expect(liveGroups()).toEqual(['A', 'B', 'B'].map(() => to));
      for (const host of fleet.hosts) {
        expect(invocations(host), `${host.target} (deploy to ${to})`).toEqual(['fleet session --json']);
        expect(switchyardStarts(host), `${host.target} (deploy to ${to})`).toHaveLength(1);
        expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease')), host.target).toBe(false);
      }
      // Each session was its host's connection: when the command ends, none is left open.
      expect(connectionsLeft(), `after the deploy to ${to}`).toEqual([]);
    }
    for (const reading of ['record', 'hosts'] as const) {
      if (reading === 'hosts') rmSync(path.join(dir, '.switchyard-fleet.json'));
      clearCounts();
      const rolledBack = await fleetCommand(['rollback'], blueGreen);
      expect(rolledBack.exitCode, rolledBack.all).toBe(0);
      for (const host of fleet.hosts) {
        expect(invocations(host), `${host.target} (rollback from the ${reading})`).toEqual(['fleet session --json']);
        expect(switchyardStarts(host), `${host.target} (rollback from the ${reading})`).toHaveLength(1);
      }
      expect(connectionsLeft(), `after the rollback from the ${reading}`).toEqual([]);
    }
    expect(readLines(switched)).toEqual(['A', 'B', 'A', 'B']);
    expect(liveGroups()).toEqual(['B', 'B', 'B']);
  }, 600_000);
});

function readLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}
