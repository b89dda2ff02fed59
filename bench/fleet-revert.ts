import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { duringLoad, summarizeFailures, type RequestRecord } from '../harness/load.ts';
import { startFront, type NetnsFleet, type NetnsHost } from '../harness/netns.ts';
import { freePort } from '../harness/ports.ts';
import { batchesBefore, fleetCommand, medianText, type TimedLine } from './fleet-support.ts';

/**
 * The revert after a sick host: a release healthy everywhere but on the last host (its /srv/sick),
 * rolled out in batches; the batches before it switched, then put back at once. Timed from the sick
 * host's failure event (its first failed step or error, as `fleet deploy --json` passes it on) to the
 * command's end: the revert phase, not the sick host's own HEALTH_TIMEOUT (shortened on it here).
 * Each shape twice: the hosts on the default bake window (BAKE_TIME 5m: a switched host's previous slot
 * stays warm, so its revert is a switch), and with BAKE_TIME=0 as the test hosts have it (the previous
 * slot was stopped, so a revert starts it again).
 */

const LOAD = { connections: 4, slowMs: [100, 500] as [number, number], maxDurationMs: 300_000, leadMs: 300, tailMs: 300 };
const SICK_HEALTH_TIMEOUT = '3s';

export type RevertShape = { size: number; batch: string; bake: 'default' | '0' };

export type RevertOptions = {
  fleet: NetnsFleet;
  dir: string;
  deployTs: string;
  shapes: RevertShape[];
  rounds: number;
  /** A new commit whose VERSION says "sick"; its SHA. */
  nextSick: () => string;
  envFor: (size: number) => string;
};

export type RevertFigure = { size: number; batch: string; bake: RevertShape['bake']; batches: number; seconds: number[]; total: number[] };

export async function benchRevert(options: RevertOptions): Promise<{ lines: string[]; figures: RevertFigure[] }> {
  const records: RequestRecord[] = [];
  const figures: RevertFigure[] = [];
  for (const { size, batch, bake } of options.shapes) {
    const hosts = options.fleet.hosts.slice(0, size);
    const sick = hosts[size - 1];
    const envPath = (host: NetnsHost) => path.join(host.srv, 'switchyard', '.env');
    const envTexts = new Map(hosts.map((host) => [host, readFileSync(envPath(host), 'utf8')]));
    const figure: RevertFigure = { size, batch, bake, batches: batchesBefore(size, batch), seconds: [], total: [] };
    let front: Awaited<ReturnType<typeof startFront>> | undefined;
    try {
      for (const host of hosts) {
        let text = envTexts.get(host)!;
        if (bake === 'default') text = text.replace(/^BAKE_TIME=.*\n/m, '');
        if (host === sick) text = text.replace(/^HEALTH_TIMEOUT=.*$/m, `HEALTH_TIMEOUT=${JSON.stringify(SICK_HEALTH_TIMEOUT)}`);
        writeFileSync(envPath(host), text);
      }
      writeFileSync(path.join(sick.srv, 'sick'), '');
      const frontDir = path.join(options.dir, `front-revert-${size}`);
      mkdirSync(frontDir, { recursive: true });
      front = await startFront(frontDir, hosts.map((host) => host.address), await freePort());
      const port = front.port;
      for (let round = 0; round < options.rounds; round++) {
        let failedAt: number | undefined;
        const onLine = ({ at, line }: TimedLine) => {
          if (failedAt !== undefined || !line.startsWith('{')) return;
          const event = JSON.parse(line);
          if (event.host === sick.target && ((event.event === 'step' && event.ok === false) || event.event === 'error')) failedAt = at;
        };
        const run = fleetCommand(options.deployTs, options.envFor(size), onLine);
        const sha = options.nextSick();
        const { result, records: these } = await duringLoad({ port, ...LOAD }, async () => {
          const started = performance.now();
          const outcome = await run(['deploy', '--json', sha], { FLEET_BATCH: batch, FLEET_CANARY_HOSTS: '0' })();
          return { outcome, started, ended: performance.now() };
        });
        records.push(...these);
        const { outcome, started, ended } = result;
        if (outcome.exitCode !== 1 || !outcome.output.includes('reverted')) {
          throw new Error(`fleet deploy of a release sick on ${sick.target}: exit ${outcome.exitCode}, expected 1 and a revert:\n${outcome.output.slice(-3000)}`);
        }
        if (failedAt === undefined) throw new Error(`fleet deploy --json passed on no failure event of ${sick.target}:\n${outcome.output.slice(-3000)}`);
        figure.seconds.push((ended - failedAt) / 1000);
        figure.total.push((ended - started) / 1000);
        process.stdout.write(`  N=${size}, FLEET_BATCH=${batch}, BAKE_TIME ${bake}, sick on the last host: revert phase ${((ended - failedAt) / 1000).toFixed(2)} s of ${((ended - started) / 1000).toFixed(2)} s\n`);
      }
    } finally {
      await front?.stop();
      rmSync(path.join(sick.srv, 'sick'), { force: true });
      for (const [host, text] of envTexts) writeFileSync(envPath(host), text);
    }
    figures.push(figure);
  }
  const lines = [
    `## Revert after a sick host (${options.rounds} rounds, median (range); under load: ${summarizeFailures(records)})`,
    '',
    `A release sick on the last host only (its health check fails; HEALTH_TIMEOUT=${SICK_HEALTH_TIMEOUT} there), the hosts before it in batches that switched; then every switched host put back at once. The revert phase: from the sick host's failure event to the command's end (the reverts, the lease release and the history). Target: ≤ 1 s per batch.`,
    '',
    '| hosts | FLEET_BATCH | BAKE_TIME on the hosts | batches switched, then reverted | revert phase, s | per batch, s | whole command, s |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...figures.map((figure) => `| ${figure.size} | ${figure.batch} | ${figure.bake === 'default' ? '5m (default: revert is a switch)' : '0 (revert restarts the old slot)'} | ${figure.batches} | ${medianText(figure.seconds)} | ${medianText(figure.seconds.map((value) => value / figure.batches))} | ${medianText(figure.total)} |`),
    '',
  ];
  return { lines, figures };
}
