/**
 * `npm run bench:fleet [-- --out DIR]`: the fleet figure. Three real hosts (harness/netns.ts: network
 * namespaces, each its own sshd, /srv, nginx and Switchyard) and the controller on this machine: one
 * host's own deploy (./deploy.ts deploy on the host), a fleet deploy one host at a time
 * (FLEET_BATCH=1) and all at once (FLEET_BATCH=100%), for three deploy profiles: the example app
 * (a build of milliseconds, so the figures show the fleet's own cost), an app that takes 3 s to boot,
 * and a CPU-bound tsc build. With each, the machine's CPU-seconds for one host's deploy, which sets
 * the floor for three at once on shared cores. Also the revert of a release sick on the last host
 * (FLEET_BATCH=1: two hosts switched, then put back). Then blue-green `fleet rollback` under load
 * (bench/fleet-blue-green.ts). `--only profiles|blue-green` runs one part. Writes DIR/fleet.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createExampleRepo } from '../harness/example-repo.ts';
import { createNetnsFleet } from '../harness/netns.ts';
import { benchBlueGreenRollback } from './fleet-blue-green.ts';
import { describeHost, hostInfo } from './host-info.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const FLEET_APP = fileURLToPath(new URL('../test/fixtures/apps/no-handler.js', import.meta.url));
const TSC = path.join(PROJECT_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
const BUILD_FILES = 120;

/** Busy time of every core of this machine so far, in seconds (/proc/stat: user, nice, system, irq, softirq, steal). */
function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** A TypeScript project with no dependency: BUILD_FILES modules of generic code, each importing the one before. */
function writeTypeScriptProject(repo: string): void {
  mkdirSync(path.join(repo, 'src'), { recursive: true });
  for (let index = 0; index < BUILD_FILES; index++) {
    const previous = index === 0 ? '' : `import { Store${index - 1} } from './m${index - 1}.js';\n`;
    const body = Array.from({ length: 12 }, (_, fn) => `export function f${fn}<T extends { id: number; tags: readonly string[] }>(items: readonly T[], pick: (item: T) => keyof T): Map<keyof T, T[]> {\n  const out = new Map<keyof T, T[]>();\n  for (const item of items) out.set(pick(item), [...(out.get(pick(item)) ?? []), item]);\n  return out;\n}\n`).join('');
    const store = `export class Store${index}<K extends string, V> {\n  private items = new Map<K, V>();\n  set(key: K, value: V): this { this.items.set(key, value); return this; }\n  get(key: K): V | undefined { return this.items.get(key); }\n  ${index === 0 ? '' : `parent?: Store${index - 1}<K, V>;`}\n}\n`;
    writeFileSync(path.join(repo, 'src', `m${index}.ts`), previous + body + store);
  }
  writeFileSync(path.join(repo, 'tsconfig.build.json'), JSON.stringify({ compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, outDir: 'dist', types: [], skipLibCheck: true }, include: ['src'] }, null, 2));
}

const { values } = parseArgs({ options: {
  out: { type: 'string', default: path.join(PROJECT_DIR, 'bench', 'results') },
  only: { type: 'string' },
  rounds: { type: 'string', default: '5' },
} });
const runs = (part: string) => !values.only || values.only === part;
// The controller runs the bundle, as after npm ci (a source newer than it would run through tsx, seconds a start).
await execa(process.execPath, [path.join(PROJECT_DIR, 'tools', 'bundle.mjs')], { cwd: PROJECT_DIR });
const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-bench-fleet-'));
const example = createExampleRepo(path.join(dir, 'repo'));
let version = 1;
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
  // Three deploy profiles; each host's .env gets the profile's BUILD_CMD and START_CMD, then a fleet
  // deploy warms every host, and the figures follow, each with a new commit.
  const profiles = [
    { name: 'the example app (no install, a build of milliseconds): what the fleet itself costs', build: 'node build.js', start: 'node server.js', project: false },
    { name: 'an app that takes 3 s to boot before it listens (a framework start, a database connection)', build: 'node build.js', start: 'sleep 3 && exec node server.js', project: false },
    { name: `a CPU-bound build: tsc over ${BUILD_FILES} generated TypeScript files`, build: `node build.js && node ${TSC} -p tsconfig.build.json`, start: 'node server.js', project: true },
  ];
  const sections: string[] = [];
  let revert = 0;
  for (const profile of runs('profiles') ? profiles : []) {
    for (const host of fleet.hosts) {
      const envPath = path.join(host.srv, 'switchyard', '.env');
      writeFileSync(envPath, readFileSync(envPath, 'utf8').replace(/^BUILD_CMD=.*$/m, `BUILD_CMD=${JSON.stringify(profile.build)}`).replace(/^START_CMD=.*$/m, `START_CMD=${JSON.stringify(profile.start)}`));
    }
    const next = (suffix = '') => example.commit(`v${++version}${suffix}`, (repo) => {
      copyFileSync(FLEET_APP, path.join(repo, 'server.js'));
      if (profile.project) writeTypeScriptProject(repo);
    });
    process.stdout.write(`\n${profile.name}\n`);
    next();
    await timed('  first fleet deploy of this profile (all at once)', fleetRun(['deploy'], { FLEET_BATCH: '100%' }));
    next();
    const cpuBefore = machineCpuSeconds();
    const one = await timed("  one host's own deploy", () => fleet.hosts[0].run(['deploy']));
    const cpu = machineCpuSeconds() - cpuBefore;
    // A new commit each time: a host already serving the fleet's SHA is skipped.
    next();
    const serial = await timed('  fleet deploy, FLEET_BATCH=1', fleetRun(['deploy'], { FLEET_BATCH: '1' }));
    next();
    const parallel = await timed('  fleet deploy, FLEET_BATCH=100%', fleetRun(['deploy'], { FLEET_BATCH: '100%' }));
    const floor = Math.max(one, (3 * cpu) / os.cpus().length);
    sections.push(
      `${profile.name[0].toUpperCase()}${profile.name.slice(1)}: one host's deploy used ${cpu.toFixed(1)} CPU-seconds of this machine, so three at once cannot take under ${floor.toFixed(1)} s on its ${os.cpus().length} cores.`,
      '',
      '| what | seconds | × one host |',
      '| --- | --- | --- |',
      `| one host's own deploy (./deploy.ts deploy on the host) | ${one.toFixed(1)} | 1.0 |`,
      `| fleet deploy, FLEET_BATCH=1 (preflight, lease, 3 deploys in turn) | ${serial.toFixed(1)} | ${(serial / one).toFixed(1)} |`,
      `| fleet deploy, FLEET_BATCH=100% (3 deploys at once) | ${parallel.toFixed(1)} | ${(parallel / one).toFixed(1)} |`,
      `| the CPU floor of 3 at once (3 × CPU-seconds / cores) | ${floor.toFixed(1)} | ${(floor / one).toFixed(1)} |`,
      '',
    );
    if (profile === profiles[0]) {
      next('-sick');
      writeFileSync(path.join(fleet.hosts[2].srv, 'sick'), '');
      revert = await timed('  fleet deploy sick on host 3, FLEET_BATCH=1, revert', fleetRun(['deploy'], { FLEET_BATCH: '1' }), 1);
      rmSync(path.join(fleet.hosts[2].srv, 'sick'));
      sections.push(`A release sick on host 3 (FLEET_BATCH=1: 2 deploys, its health check failing for HEALTH_TIMEOUT=20s, 2 reverts): ${revert.toFixed(1)} s.`, '');
    }
  }
  if (runs('blue-green')) {
    const next = () => example.commit(`v${++version}`, (repo) => copyFileSync(FLEET_APP, path.join(repo, 'server.js')));
    sections.push(...await benchBlueGreenRollback({ fleet, dir, envFile, next, timed, fleetRun, rounds: Number(values.rounds) }));
  }
  const table = [
    `# Fleet: three hosts over ssh (${new Date().toISOString().slice(0, 10)})`,
    '',
    describeHost(hostInfo()),
    '',
    'Three network-namespace hosts on this one machine (each its own sshd, nginx, Switchyard), so the hosts share its cores: "all at once" is bound by them.',
    '',
    ...sections,
  ].join('\n');
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(path.join(values.out!, 'fleet.md'), table);
  process.stdout.write(`\n${table}`);
} finally {
  await fleet.cleanUp();
  rmSync(dir, { recursive: true, force: true });
}
