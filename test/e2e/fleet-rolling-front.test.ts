import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duringLoad, failures, summarizeFailures } from '../../harness/load.ts';
import { waitFor } from '../../harness/wait.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * The rolling front as shipped: templates/fleet/haproxy-rolling.cfg (health checks, L7 retries,
 * redispatch) in front of three real hosts (network namespaces, each its own sshd, nginx and
 * Switchyard), and templates/fleet/drain.sh as FLEET_DRAIN_CMD. Under load through it: a rolling
 * deploy drains each host before its deploy and puts it back after (0 failed); a host whose health
 * check fails is taken out by HAProxy by itself (0 failed, no request reaches it).
 */

const TEMPLATES = fileURLToPath(new URL('../../templates/fleet', import.meta.url));
const TOOL = fileURLToPath(new URL('../../templates/haproxy/haproxy-tool.mjs', import.meta.url));

describe('the rolling HAProxy front', () => {
  let bed: FleetTest;
  const socket = () => path.join(bed.dir, 'front.sock');
  /** `show servers state`: each server's operational state (0: down by its health check, 2: up) and admin state. */
  const serverStates = async () => {
    const answer = (await execa('node', [TOOL, 'api', socket(), 'show servers state fleet'])).stdout;
    const rows = answer.split('\n').map((line) => line.trim().split(/\s+/)).filter((fields) => fields[1] === 'fleet');
    return Object.fromEntries(rows.map((fields) => [fields[3], { up: fields[5] === '2', admin: Number(fields[6]) }]));
  };
  const servedBy = () => bed.served((response) => response.headers.get('x-switchyard-server') ?? 'none');

  beforeAll(async () => {
    // The shipped front, with only what a test machine cannot share changed: the socket, the port, the hosts.
    bed = await startFleetTest({
      name: 'swy-rollfront-', count: 3, front: ({ fleet, port, dir }) => {
        let config = readFileSync(path.join(TEMPLATES, 'haproxy-rolling.cfg'), 'utf8')
          .replace('/run/haproxy/fleet.sock mode 660', `${path.join(dir, 'front.sock')} mode 600`)
          .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${port}`);
        fleet.hosts.forEach((host, index) => (config = config.replace(`server h${index + 1} 10.0.0.1${index + 1}:80`, `server h${index + 1} ${host.address}:80`)));
        for (const host of fleet.hosts) expect(config).toContain(host.address);
        return config;
      },
    });
    const states = path.join(bed.dir, 'drain-states');
    const vars = `HAPROXY_SOCKET=${socket()} HAPROXY_BACKEND=fleet`;
    bed.writeController({
      FLEET_BATCH: '1',
      // drain.sh as shipped, then what the front says right after it, for the test to read.
      FLEET_DRAIN_CMD: `${vars} ${path.join(TEMPLATES, 'drain.sh')} && echo $SWITCHYARD_DRAIN $(node ${TOOL} admin-state ${socket()} fleet h1 h2 h3) >> ${states}`,
    });
    const first = await bed.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    await waitFor('every host up by its health check', async () => Object.values(await serverStates()).every((server) => server.up), { timeoutMs: 30_000 });
    rmSync(states);
  }, 300_000);

  afterAll(() => bed?.cleanUp(), 120_000);

  it('a rolling deploy drains each host before its deploy and puts it back after: 0 failed', async () => {
    const v2 = bed.commitVersion('v2');
    const { result, records } = await duringLoad(bed.load(), () => bed.run(['deploy']));
    expect(result.exitCode, result.output).toBe(0);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect(result.output).toContain(`drain │ haproxy fleet: h1 (${bed.fleet.hosts[0].target}) drain`);
    expect(readFileSync(path.join(bed.dir, 'drain-states'), 'utf8').split('\n').filter(Boolean)).toEqual([
      'drain h1 drain h2 ready h3 ready', 'ready h1 ready h2 ready h3 ready',
      'drain h1 ready h2 drain h3 ready', 'ready h1 ready h2 ready h3 ready',
      'drain h1 ready h2 ready h3 drain', 'ready h1 ready h2 ready h3 ready',
    ]);
    expect(bed.liveCommits()).toEqual([v2, v2, v2]);
    expect(await servedBy()).toEqual(['h1', 'h2', 'h3']);
  }, 400_000);

  it('a host whose health check fails is taken out by HAProxy by itself: 0 failed, no request reaches it', async () => {
    // A release sick where /srv/sick exists, deployed healthy; then host 2 turns sick.
    bed.commitVersion('v3-sick');
    const deployed = await bed.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const sick = path.join(bed.fleet.hosts[1].srv, 'sick');
    try {
      const { records } = await duringLoad(bed.load(), async () => {
        writeFileSync(sick, '');
        await waitFor('HAProxy taking h2 out by its health check', async () => !(await serverStates()).h2.up, { timeoutMs: 30_000 });
      });
      expect(failures(records), summarizeFailures(records)).toEqual([]);
      expect(await servedBy()).toEqual(['h1', 'h3']);
    } finally {
      rmSync(sick, { force: true });
    }
    await waitFor('h2 back by its health check', async () => (await serverStates()).h2.up, { timeoutMs: 30_000 });
    expect(await servedBy()).toEqual(['h1', 'h2', 'h3']);
  }, 400_000);
});
