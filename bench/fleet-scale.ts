import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { duringLoad, failures, summarizeFailures, type RequestRecord } from '../harness/load.ts';
import { startFront, type NetnsFleet, type NetnsHost } from '../harness/netns.ts';
import { freePort } from '../harness/ports.ts';
import { endedChildrenCpuSeconds, median, medianText, timed, type FleetRun } from './fleet-support.ts';

/**
 * The fleet's own cost against the same work without it: at each N, a fleet deploy all at once
 * (FLEET_BATCH=100%, FLEET_CANARY_HOSTS=0: no first batch of its own) and the same host deploys
 * started at once over plain ssh (`ssh host /srv/switchyard/deploy.ts deploy SHA`, the same ssh
 * config), in turn, each on a new commit, under load through a HAProxy over the N hosts. Then a
 * no-op fleet deploy (every host already on the SHA) of 1 host and of the largest N.
 */

const LOAD = { connections: 4, slowMs: [100, 500] as [number, number], maxDurationMs: 300_000, leadMs: 300, tailMs: 300 };
const ALL_AT_ONCE = { FLEET_BATCH: '100%', FLEET_CANARY_HOSTS: '0' };

export type ScaleOptions = {
  fleet: NetnsFleet;
  dir: string;
  sizes: number[];
  rounds: number;
  /** A new commit of the example app; its SHA. */
  next: () => string;
  /** The controller's `fleet` command with an env file naming the first `size` hosts. */
  fleetRun: (size: number) => FleetRun;
};

export type ScaleFigures = {
  rows: { size: number; fleet: number; plain: number }[];
  noop: { size: number; seconds: number; cpu: number }[];
  /** N parallel `ssh host deploy.ts --version`: one ssh command and one Node start per host, no work. */
  floor: { size: number; seconds: number }[];
};

/** The same Switchyard command on each host at once over plain ssh, as an operator's loop with `&` would. */
function plainParallel(fleet: NetnsFleet, hosts: NetnsHost[], words: string[]) {
  return async () => {
    const results = await Promise.all(hosts.map((host) => execa('ssh', [
      '-F', fleet.sshConfig, '-T', '-o', 'BatchMode=yes', '--', `root@${host.address}`, '/srv/switchyard/deploy.ts', ...words,
    ], { reject: false, all: true, timeout: 300_000 })));
    const bad = results.find((result) => result.exitCode !== 0);
    return { exitCode: bad?.exitCode ?? 0, output: bad?.all ?? '' };
  };
}

export async function benchScale(options: ScaleOptions): Promise<{ lines: string[]; figures: ScaleFigures }> {
  const { fleet, sizes, rounds } = options;
  const records: RequestRecord[] = [];
  const figures: ScaleFigures = { rows: [], noop: [], floor: [] };
  const cpuRows: string[] = [];
  for (const size of sizes) {
    const hosts = fleet.hosts.slice(0, size);
    const frontDir = path.join(options.dir, `front-${size}`);
    mkdirSync(frontDir, { recursive: true });
    const front = await startFront(frontDir, hosts.map((host) => host.address), await freePort());
    try {
      const fleetSeconds: number[] = [];
      const plainSeconds: number[] = [];
      const fleetCpu: number[] = [];
      const plainCpu: number[] = [];
      const under = async (run: () => Promise<number>) => {
        const { result, records: these } = await duringLoad({ port: front.port, ...LOAD }, run);
        records.push(...these);
        return result;
      };
      const fleetArm = async () => {
        const sha = options.next();
        const cpu = endedChildrenCpuSeconds();
        fleetSeconds.push(await under(() => timed(`  N=${size}: fleet deploy, all at once`, options.fleetRun(size)(['deploy', sha], ALL_AT_ONCE))));
        fleetCpu.push(endedChildrenCpuSeconds() - cpu);
      };
      const plainArm = async () => {
        const sha = options.next();
        const cpu = endedChildrenCpuSeconds();
        plainSeconds.push(await under(() => timed(`  N=${size}: plain ssh deploy on each host at once`, plainParallel(fleet, hosts, ['deploy', sha]))));
        plainCpu.push(endedChildrenCpuSeconds() - cpu);
      };
      // In turn, the first of each round alternating: a drift of the shared machine's load falls on both.
      for (let round = 0; round < rounds; round++) {
        for (const arm of round % 2 === 0 ? [fleetArm, plainArm] : [plainArm, fleetArm]) await arm();
      }
      figures.rows.push({ size, fleet: median(fleetSeconds), plain: median(plainSeconds) });
      cpuRows.push(`| ${size} | ${medianText(fleetCpu)} | ${medianText(plainCpu)} |`);
    } finally {
      await front.stop();
    }
  }
  // No-op: every host already serves the SHA the last deploy left.
  const sha = options.next();
  await timed(`  N=${Math.max(...sizes)}: fleet deploy of a new commit, before the no-op ones`, options.fleetRun(Math.max(...sizes))(['deploy', sha], ALL_AT_ONCE));
  const noopRows: string[] = [];
  for (const size of [...new Set([1, Math.max(...sizes)])]) {
    const seconds: number[] = [];
    const cpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const before = endedChildrenCpuSeconds();
      seconds.push(await timed(`  N=${size}: no-op fleet deploy (every host on ${sha.slice(0, 7)})`, options.fleetRun(size)(['deploy', sha], ALL_AT_ONCE)));
      cpu.push(endedChildrenCpuSeconds() - before);
    }
    figures.noop.push({ size, seconds: median(seconds), cpu: median(cpu) });
    noopRows.push(`| ${size} | ${medianText(seconds)} | ${medianText(cpu)} |`);
  }
  // The floor under a no-op: what one ssh command and one Node start of Switchyard per host cost, at once, doing nothing.
  const floorRows: string[] = [];
  for (const size of [...new Set([1, Math.max(...sizes)])]) {
    const seconds: number[] = [];
    const hosts = fleet.hosts.slice(0, size);
    for (let round = 0; round < rounds; round++) {
      seconds.push(await timed(`  N=${size}: ssh and \`deploy.ts --version\` on each host at once`, plainParallel(fleet, hosts, ['--version'])));
    }
    const noop = figures.noop.find((row) => row.size === size)!;
    figures.floor.push({ size, seconds: median(seconds) });
    floorRows.push(`| ${size} | ${medianText(seconds)} | ${noop.seconds.toFixed(2)} | ${(noop.seconds - median(seconds)).toFixed(2)} |`);
  }
  const [one, many] = [figures.noop[0], figures.noop[figures.noop.length - 1]];
  const perHost = many.size > one.size ? (many.seconds - one.seconds) / (many.size - one.size) : undefined;
  const perHostCpu = many.size > one.size ? (many.cpu - one.cpu) / (many.size - one.size) : undefined;
  const lines = [
    `## All at once against plain ssh (${rounds} rounds each, median; under load: ${summarizeFailures(records)})`,
    '',
    'The same host deploys of the example app (no install, a build of milliseconds) started at once, each on a new commit: by the fleet (`FLEET_BATCH=100%`, `FLEET_CANARY_HOSTS=0`; preflight, lease, deploy, release) and by `ssh root@host /srv/switchyard/deploy.ts deploy SHA` for every host in parallel with the same ssh config (-F). Load through a HAProxy over the N hosts (4 connections). Target: ≤ 1.25×.',
    '',
    '| hosts | fleet deploy, s | plain ssh, s | fleet ÷ plain |',
    '| --- | --- | --- | --- |',
    ...figures.rows.map((row) => `| ${row.size} | ${row.fleet.toFixed(2)} | ${row.plain.toFixed(2)} | ${(row.fleet / row.plain).toFixed(2)}× |`),
    '',
    'CPU-seconds on the controller\'s side (the command and the ssh clients it waited for; median (range)):',
    '',
    '| hosts | fleet deploy | plain ssh clients |',
    '| --- | --- | --- |',
    ...cpuRows,
    '',
    `## No-op fleet deploy (every host already on the SHA; ${rounds} rounds, median (range)). Target for 10 hosts: ≤ 2 s.`,
    '',
    '| hosts | seconds | controller CPU-seconds |',
    '| --- | --- | --- |',
    ...noopRows,
    '',
    ...(perHost !== undefined ? [`Per host (no-op ${many.size} − no-op ${one.size}) ÷ ${many.size - one.size}: ${(perHost * 1000).toFixed(0)} ms and ${(perHostCpu! * 1000).toFixed(0)} ms of controller CPU.`, ''] : []),
    `The floor under it (${rounds} rounds, median (range)): \`ssh root@host /srv/switchyard/deploy.ts --version\` on every host at once, the same ssh config: one ssh handshake and one Node start of Switchyard per host, and nothing else. What the no-op adds is its work: the lease taken and given back on every host, the revision resolved (a fetch) on one, the history written.`,
    '',
    '| hosts | floor, s | no-op fleet deploy, s | no-op − floor, s |',
    '| --- | --- | --- | --- |',
    ...floorRows,
    '',
  ];
  if (failures(records).length) lines.push(`FAILED REQUESTS under load: ${summarizeFailures(records)}`, '');
  return { lines, figures };
}

/** An env file for the controller naming the first `size` hosts. */
export function writeSizedEnv(dir: string, fleet: NetnsFleet, size: number): string {
  const file = path.join(dir, `fleet-${size}.env`);
  writeFileSync(file, `FLEET_HOSTS="${fleet.hosts.slice(0, size).map((host) => host.target).join(' ')}"\nFLEET_SSH_CONFIG=${fleet.sshConfig}\nFLEET_REMOTE=/srv/switchyard/deploy.ts\n`);
  return file;
}
