import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';
import { createNetnsFleet, startFront, waitFor, type FleetFront, type NetnsFleet } from '../../harness/netns.ts';
import { freePort } from '../../harness/ports.ts';

/**
 * The rolling front as shipped: templates/fleet/haproxy-rolling.cfg (health checks, L7 retries,
 * redispatch) in front of three real hosts (network namespaces, each its own sshd, nginx and
 * Switchyard), and templates/fleet/drain.sh as FLEET_DRAIN_CMD. Under load through it: a rolling
 * deploy drains each host before its deploy and puts it back after (0 failed); a host whose health
 * check fails is taken out by HAProxy by itself (0 failed, no request reaches it).
 */
const TEMPLATES = fileURLToPath(new URL('../../templates/fleet', import.meta.url));
const TOOL = fileURLToPath(new URL('../../templates/haproxy/haproxy-tool.mjs', import.meta.url));
const fleetApp = new URL('../fixtures/apps/fleet-app.js', import.meta.url).pathname;
const LOAD = {
  connections: 8, mix: { fast: 0.6, post: 0.2, slowpost: 0.2 }, slowMs: [200, 800] as [number, number],
  maxDurationMs: 300_000, leadMs: 800, tailMs: 500,
};

describe('the rolling HAProxy front', () => {
  let fleet: NetnsFleet;
  let front: FleetFront;
  let dir: string;
  let socket: string;
  let envFile: string;
  let example: ReturnType<typeof createExampleRepo>;
  const commitVersion = (name: string) => example.commit(name, (repo) => copyFileSync(fleetApp, path.join(repo, 'server.js')));
  const fleetRun = async (args: string[], env: Record<string, string> = {}) => {
    const result = await execa(DEPLOY_TS, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', XDG_RUNTIME_DIR: dir, ...env }, reject: false, all: true, timeout: 400_000 });
    return { exitCode: result.exitCode ?? -1, output: result.all ?? '' };
  };
  /** `show servers state`: each server's operational state (0: down by its health check, 2: up) and admin state. */
  const serverStates = async () => {
    const answer = (await execa('node', [TOOL, 'api', socket, 'show servers state fleet'])).stdout;
    const rows = answer.split('\n').map((line) => line.trim().split(/\s+/)).filter((fields) => fields[1] === 'fleet');
    return Object.fromEntries(rows.map((fields) => [fields[3], { up: fields[5] === '2', admin: Number(fields[6]) }]));
  };
  const servedBy = async () => {
    const seen = new Set<string>();
    for (let index = 0; index < 30; index++) seen.add((await fetch(front.url('/'), { headers: { connection: 'close' } })).headers.get('x-switchyard-server') ?? 'none');
    return [...seen].sort();
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'swy-rollfront-'));
    example = createExampleRepo(path.join(dir, 'repo'));
    commitVersion('v1');
    fleet = await createNetnsFleet({ count: 3, repo: example.repo });
    const port = await freePort();
    socket = path.join(dir, 'front.sock');
    // The shipped front, with only what a test machine cannot share changed: the socket, the port, the hosts.
    let config = readFileSync(path.join(TEMPLATES, 'haproxy-rolling.cfg'), 'utf8')
      .replace('/run/haproxy/fleet.sock mode 660', `${socket} mode 600`)
      .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${port}`);
    fleet.hosts.forEach((host, index) => (config = config.replace(`server h${index + 1} 10.0.0.1${index + 1}:80`, `server h${index + 1} ${host.address}:80`)));
    for (const host of fleet.hosts) expect(config).toContain(host.address);
    front = await startFront(dir, [], port, config);
    const states = path.join(dir, 'drain-states');
    const vars = `HAPROXY_SOCKET=${socket} HAPROXY_BACKEND=fleet`;
    envFile = path.join(dir, 'fleet.env');
    writeFileSync(envFile, [
      `FLEET_HOSTS="${fleet.hosts.map((host) => host.target).join(' ')}"`,
      `FLEET_SSH_CONFIG=${fleet.sshConfig}`,
      'FLEET_REMOTE=/srv/switchyard/deploy.ts',
      'FLEET_BATCH=1',
      // drain.sh as shipped, then what the front says right after it, for the test to read.
      `FLEET_DRAIN_CMD="${vars} ${path.join(TEMPLATES, 'drain.sh')} && echo $SWITCHYARD_DRAIN $(node ${TOOL} admin-state ${socket} fleet h1 h2 h3) >> ${states}"`,
      '',
    ].join('\n'));
    const first = await fleetRun(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    await waitFor('every host up by its health check', async () => Object.values(await serverStates()).every((server) => server.up), 30_000);
    rmSync(states);
  }, 300_000);

  afterAll(async () => {
    await front?.stop();
    await fleet?.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('a rolling deploy drains each host before its deploy and puts it back after: 0 failed', async () => {
    const v2 = commitVersion('v2');
    const { result, records } = await duringLoad({ port: front.port, ...LOAD }, () => fleetRun(['deploy']));
    expect(result.exitCode, result.output).toBe(0);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect(result.output).toContain(`drain │ haproxy fleet: h1 (${fleet.hosts[0].target}) drain`);
    expect(readFileSync(path.join(dir, 'drain-states'), 'utf8').split('\n').filter(Boolean)).toEqual([
      'drain h1 drain h2 ready h3 ready', 'ready h1 ready h2 ready h3 ready',
      'drain h1 ready h2 drain h3 ready', 'ready h1 ready h2 ready h3 ready',
      'drain h1 ready h2 ready h3 drain', 'ready h1 ready h2 ready h3 ready',
    ]);
    expect(fleet.hosts.map((host) => host.state().slots[host.state().live].commit)).toEqual([v2, v2, v2]);
    expect(await servedBy()).toEqual(['h1', 'h2', 'h3']);
  }, 400_000);

  it('a host whose health check fails is taken out by HAProxy by itself: 0 failed, no request reaches it', async () => {
    // A release sick where /srv/sick exists, deployed healthy; then host 2 turns sick.
    commitVersion('v3-sick');
    const deployed = await fleetRun(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const sick = path.join(fleet.hosts[1].srv, 'sick');
    try {
      const { records } = await duringLoad({ port: front.port, ...LOAD }, async () => {
        writeFileSync(sick, '');
        await waitFor('HAProxy taking h2 out by its health check', async () => !(await serverStates()).h2.up, 30_000);
      });
      expect(failures(records), summarizeFailures(records)).toEqual([]);
      expect(await servedBy()).toEqual(['h1', 'h3']);
    } finally {
      rmSync(sick, { force: true });
    }
    await waitFor('h2 back by its health check', async () => (await serverStates()).h2.up, 30_000);
    expect(await servedBy()).toEqual(['h1', 'h2', 'h3']);
  }, 400_000);
});
