import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { duringLoad, failures } from '../harness/load.ts';
import { startFront, type NetnsFleet } from '../harness/netns.ts';
import { freePort } from '../harness/ports.ts';

/**
 * Blue-green `fleet rollback` on the bench's three hosts (group A: host 1; group B: hosts 2 and 3) behind
 * templates/fleet/haproxy-front.cfg, switch.sh and check.sh as shipped, under load through the front:
 * switch first from the controller's record, and the same rollback reading every host first (no record).
 */

const TEMPLATES = fileURLToPath(new URL('../templates/fleet', import.meta.url));
const LOAD = {
  connections: 8, mix: { fast: 0.6, post: 0.2, slowpost: 0.2 }, slowMs: [200, 800] as [number, number],
  maxDurationMs: 120_000, leadMs: 500, tailMs: 300,
};

type Timed = (what: string, run: () => Promise<{ exitCode: number; output: string }>, expectExit?: number) => Promise<number>;
type FleetRun = (args: string[], env?: Record<string, string>) => () => Promise<{ exitCode: number; output: string }>;

export async function benchBlueGreenRollback(
  options: { fleet: NetnsFleet; dir: string; envFile: string; next: () => void; timed: Timed; fleetRun: FleetRun; rounds: number },
): Promise<string[]> {
  const { fleet, dir, envFile, timed, fleetRun } = options;
  const port = await freePort();
  const socket = path.join(dir, 'front.sock');
  const [a1, b1, b2] = fleet.hosts;
  const config = readFileSync(path.join(TEMPLATES, 'haproxy-front.cfg'), 'utf8')
    .replace('/run/haproxy/fleet.sock mode 660', `${socket} mode 600`)
    .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${port}`)
    .replace('server a1 10.0.0.11:80', `server a1 ${a1.address}:80`)
    .replace('server b1 10.0.0.21:80 disabled', `server b1 ${b1.address}:80 disabled\n    server b2 ${b2.address}:80 disabled`);
  const front = await startFront(dir, [], port, config);
  const rolling = readFileSync(envFile, 'utf8');
  try {
    const vars = `HAPROXY_SOCKET=${socket} HAPROXY_BACKEND=fleet HAPROXY_SERVERS_A=a1 HAPROXY_SERVERS_B='b1 b2' HAPROXY_CHECK_URL=http://127.0.0.1:${port}/health`;
    writeFileSync(envFile, [
      rolling.trim(),
      'FLEET_STRATEGY=blue-green',
      `FLEET_GROUP_A=${a1.target}`,
      `FLEET_GROUP_B="${b1.target} ${b2.target}"`,
      `FLEET_SWITCH_CMD="${vars} ${path.join(TEMPLATES, 'switch.sh')}"`,
      `FLEET_SWITCH_CHECK_CMD="${vars} ${path.join(TEMPLATES, 'check.sh')}"`,
      '',
    ].join('\n'));
    // Group A, then group B on a newer commit: A stays warm for the rollbacks.
    options.next();
    await timed('  blue-green: first deploy (group A)', fleetRun(['deploy']));
    options.next();
    await timed('  blue-green: deploy to group B, then the switch', fleetRun(['deploy']));
    const record = path.join(dir, '.switchyard-fleet.json');
    const rows: string[] = [];
    let failed = 0;
    // Which group the front sends a fresh connection to: a1 is group A, b1 and b2 group B.
    const servedGroup = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
      await response.arrayBuffer();
      return response.headers.get('x-switchyard-server')?.startsWith('a') ? 'A' : 'B';
    };
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
    const once = async (what: string, forget: boolean) => {
      const seconds: number[] = [];
      const moved: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        if (forget) rmSync(record, { force: true });
        const from = await servedGroup();
        let started = performance.now();
        let movedAt: number | undefined;
        let watching = true;
        // Until the command returns: the first answer from the other group is when traffic moved.
        const watch = (async () => {
          while (watching && movedAt === undefined) if ((await servedGroup()) !== from) movedAt = performance.now();
        })();
        const { result, records } = await duringLoad({ port, ...LOAD }, () => {
          started = performance.now();
          return timed(`  ${what}`, fleetRun(['rollback']));
        });
        watching = false;
        await watch;
        failed += failures(records).length;
        seconds.push(result);
        if (movedAt !== undefined) moved.push((movedAt - started) / 1000);
      }
      const range = (values: number[]) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;
      const movedText = moved.length ? `${median(moved).toFixed(2)} (${range(moved)})` : 'not seen';
      rows.push(`| ${what} | ${median(seconds).toFixed(2)} (${range(seconds)}) | ${movedText} |`);
    };
    await once('fleet rollback, switch first from the controller\'s record', false);
    await once('fleet rollback reading every host first (no controller record)', true);
    return [
      `Blue-green \`fleet rollback\`, 3 hosts (group A: 1, group B: 2) behind HAProxy (templates/fleet, switch.sh and check.sh), under load (8 connections), ${options.rounds} rounds each: ${failed} failed requests.`,
      '',
      '| what | command, median s (range) | traffic on the other group after, median s (range) |',
      '| --- | --- | --- |',
      ...rows,
      '',
    ];
  } finally {
    writeFileSync(envFile, rolling);
    await front.stop();
  }
}
