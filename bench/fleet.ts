/**
 * `npm run bench:fleet [-- --out DIR --rounds N --sizes 1,3,10 --only scale|revert|blue-green|profiles]`:
 * the fleet's figures, side by side in one run, on real hosts (harness/netns.ts: network namespaces,
 * each its own sshd, /srv, nginx as root and Switchyard) with the controller on this machine:
 * - scale (bench/fleet-scale.ts): a fleet deploy all at once against the same host deploys over plain
 *   ssh at each N, and a no-op fleet deploy of 1 host and of the largest N (the controller's cost per host);
 * - revert (bench/fleet-revert.ts): the revert phase after a host sick in the last batch;
 * - blue-green (bench/fleet-blue-green.ts): `fleet rollback` on 3 hosts behind HAProxy under load;
 * - profiles (bench/fleet-profiles.ts, only with `--only profiles`): three deploy profiles on 3 hosts.
 * Every case with load counts its failed requests. Writes DIR/fleet.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createExampleRepo } from '../harness/example-repo.ts';
import { createNetnsFleet } from '../harness/netns.ts';
import { benchBlueGreenRollback } from './fleet-blue-green.ts';
import { benchProfiles } from './fleet-profiles.ts';
import { benchRevert } from './fleet-revert.ts';
import { benchScale, writeSizedEnv } from './fleet-scale.ts';
import { fleetCommand, loadAverage, timed } from './fleet-support.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { startPath } from './startup.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY_TS = path.join(PROJECT_DIR, 'deploy.ts');
const FLEET_APP = fileURLToPath(new URL('../test/fixtures/apps/no-handler.js', import.meta.url));
const PARTS = ['scale', 'revert', 'blue-green', 'profiles'] as const;
const USAGE = `Usage: npm run bench:fleet -- [--out DIR] [--rounds N] [--sizes 1,3,10] [--only ${PARTS.join('|')}]`;

const { values } = parseArgs({ options: {
  out: { type: 'string', default: path.join(PROJECT_DIR, 'bench', 'results') },
  only: { type: 'string' },
  rounds: { type: 'string', default: '3' },
  sizes: { type: 'string', default: '1,3,10' },
} });
const rounds = Number(values.rounds);
const sizes = values.sizes!.split(',').map(Number);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new Error(`--rounds must be a whole number from 1 to 50\n${USAGE}`);
if (sizes.some((size) => !Number.isInteger(size) || size < 1 || size > 50)) throw new Error(`--sizes must be host counts from 1 to 50, separated by commas\n${USAGE}`);
if (values.only && !(PARTS as readonly string[]).includes(values.only)) throw new Error(`unknown part ${values.only}\n${USAGE}`);
// The profiles take minutes of CPU: only when asked for.
const runs = (part: (typeof PARTS)[number]) => (values.only ? values.only === part : part !== 'profiles');

const loadBefore = loadAverage();
const started = performance.now();
// The controller runs the bundle, as after npm ci (a source newer than it would run through tsx, seconds a start).
await execa(process.execPath, [path.join(PROJECT_DIR, 'tools', 'bundle.mjs')], { cwd: PROJECT_DIR });
const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-bench-fleet-'));
const example = createExampleRepo(path.join(dir, 'repo'));
let version = 1;
const commit = (change: (repo: string) => void, suffix = '') => example.commit(`v${++version}${suffix}`, change);
const next = () => commit((repo) => copyFileSync(FLEET_APP, path.join(repo, 'server.js')));
const count = Math.max(3, ...(runs('scale') ? sizes : []));
const fleet = await createNetnsFleet({ count, repo: example.repo });
const envFor = (size: number) => writeSizedEnv(dir, fleet, size);
const fleetRun = (size: number) => fleetCommand(DEPLOY_TS, envFor(size));
try {
  process.stdout.write(`${count} hosts made in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  await timed(`  first fleet deploy of ${count} hosts (all at once)`, fleetRun(count)(['deploy', next()], { FLEET_BATCH: '100%', FLEET_CANARY_HOSTS: '0' }));
  const sections: string[] = [];
  if (runs('scale')) sections.push(...(await benchScale({ fleet, dir, sizes, rounds, next, fleetRun })).lines);
  if (runs('revert')) {
    const revertSizes = [{ size: 3, batch: '1' }, ...(count >= 10 ? [{ size: 10, batch: '3' }] : [])];
    const shapes = (['default', '0'] as const).flatMap((bake) => revertSizes.map((shape) => ({ ...shape, bake })));
    const nextSick = () => commit((repo) => copyFileSync(FLEET_APP, path.join(repo, 'server.js')), '-sick');
    sections.push(...(await benchRevert({ fleet, dir, deployTs: DEPLOY_TS, shapes, rounds, nextSick, envFor })).lines);
  }
  if (runs('blue-green')) {
    sections.push('## Blue-green rollback', '');
    sections.push(...await benchBlueGreenRollback({ fleet, dir, envFile: envFor(3), next, timed, fleetRun: fleetRun(3), rounds }));
  }
  if (runs('profiles')) sections.push(...await benchProfiles({ fleet, commit, fleetRun: fleetRun(3) }));
  // A source edited during the run makes deploy.ts's preamble run the TypeScript through tsx (seconds of
  // CPU a command): the figures would be the controller's under tsx, not its bundle's. Not written then.
  if (startPath(DEPLOY_TS, process.env) !== 'bundle') {
    throw new Error('a source changed during the run, so the controller ran (partly) through tsx, not its bundle: nothing written; run the bench again without editing lib/, scripts/ or deploy.ts meanwhile');
  }
  const minutes = (performance.now() - started) / 60_000;
  const report = [
    `# Fleet: namespaced hosts over ssh (${new Date().toISOString().slice(0, 10)}, Switchyard ${hostInfo().commit})`,
    '',
    describeHost(hostInfo()),
    '',
    `${count} network-namespace hosts on this one machine (each its own sshd, nginx as root, Switchyard), so the hosts and the controller share its ${os.cpus().length} cores, and the machine is shared with other work: load average ${loadBefore} before, ${loadAverage()} after (1, 5, 15 min). The whole run took ${minutes.toFixed(1)} min.`,
    '',
    ...sections,
  ].join('\n');
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(path.join(values.out!, 'fleet.md'), report);
  process.stdout.write(`\n${report}`);
} finally {
  await fleet.cleanUp();
  rmSync(dir, { recursive: true, force: true });
}
