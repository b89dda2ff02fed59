/**
 * `npm run bench:fleet [-- --out DIR]`: the fleet figure. Three real hosts (harness/netns.ts: network
 * namespaces, each its own sshd, /srv, nginx and Switchyard) and the controller on this machine: one
 * host's own deploy (./deploy.ts deploy on the host), a fleet deploy one host at a time
 * (FLEET_BATCH=1), all at once (FLEET_BATCH=100%), and the revert of a release sick on the last host
 * (FLEET_BATCH=1: two hosts switched, then put back). Writes DIR/fleet.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createExampleRepo } from '../harness/example-repo.ts';
import { createNetnsFleet } from '../harness/netns.ts';
import { describeHost, hostInfo } from './host-info.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const FLEET_APP = fileURLToPath(new URL('../test/fixtures/apps/fleet-app.js', import.meta.url));

const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(PROJECT_DIR, 'bench', 'results') } } });
const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-bench-fleet-'));
const example = createExampleRepo(path.join(dir, 'repo'));
let version = 1;
const commit = (suffix = '') => example.commit(`v${++version}${suffix}`, (repo) => copyFileSync(FLEET_APP, path.join(repo, 'server.js')));
const fleet = await createNetnsFleet({ count: 3, repo: example.repo });
const envFile = path.join(dir, 'fleet.env');
writeFileSync(envFile, `FLEET_HOSTS="${fleet.hosts.map((host) => host.target).join(' ')}"\nFLEET_SSH_CONFIG=${fleet.sshConfig}\nFLEET_REMOTE=/srv/switchyard/deploy.ts\n`);
const timed = async (what: string, run: () => Promise<{ exitCode: number; output: string }>, expectExit = 0) => {
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== expectExit) throw new Error(`${what}: exit ${result.exitCode}, expected ${expectExit}:\n${result.output.slice(-2000)}`);
  process.stdout.write(`${what}: ${seconds.toFixed(1)} s\n`);
  return seconds;
};
const fleetRun = (args: string[], env: Record<string, string> = {}) => async () => {
  const result = await execa(path.join(PROJECT_DIR, 'deploy.ts'), ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', ...env }, reject: false, all: true });
  return { exitCode: result.exitCode ?? -1, output: result.all ?? '' };
};
try {
  commit();
  await timed('first fleet deploy (all at once)', fleetRun(['deploy'], { FLEET_BATCH: '100%' }));
  commit();
  const one = await timed("one host's own deploy", () => fleet.hosts[0].run(['deploy']));
  // A new commit: a host already serving the fleet's SHA is skipped.
  commit();
  const serial = await timed('fleet deploy, FLEET_BATCH=1', fleetRun(['deploy'], { FLEET_BATCH: '1' }));
  commit();
  const parallel = await timed('fleet deploy, FLEET_BATCH=100%', fleetRun(['deploy'], { FLEET_BATCH: '100%' }));
  commit('-sick');
  writeFileSync(path.join(fleet.hosts[2].srv, 'sick'), '');
  const revert = await timed('fleet deploy sick on host 3, FLEET_BATCH=1, revert', fleetRun(['deploy'], { FLEET_BATCH: '1' }), 1);
  const table = [
    `# Fleet: three hosts over ssh (${new Date().toISOString().slice(0, 10)})`,
    '',
    describeHost(hostInfo()),
    '',
    'Three network-namespace hosts on this one machine (each its own sshd, nginx, Switchyard), so the hosts share its cores: "all at once" is bound by them.',
    '',
    '| what | seconds | × one host |',
    '| --- | --- | --- |',
    `| one host's own deploy (./deploy.ts deploy on the host) | ${one.toFixed(1)} | 1.0 |`,
    `| fleet deploy, FLEET_BATCH=1 (preflight, lease, 3 deploys in turn) | ${serial.toFixed(1)} | ${(serial / one).toFixed(1)} |`,
    `| fleet deploy, FLEET_BATCH=100% (3 deploys at once) | ${parallel.toFixed(1)} | ${(parallel / one).toFixed(1)} |`,
    `| a release sick on host 3, FLEET_BATCH=1: 2 deploys, the failure, 2 reverts | ${revert.toFixed(1)} | ${(revert / one).toFixed(1)} |`,
    '',
  ].join('\n');
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(path.join(values.out!, 'fleet.md'), table);
  process.stdout.write(`\n${table}`);
} finally {
  await fleet.cleanUp();
  rmSync(dir, { recursive: true, force: true });
}
