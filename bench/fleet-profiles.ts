import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetnsFleet } from '../harness/netns.ts';
import { timed, type FleetRun } from './fleet-support.ts';

/**
 * Three deploy profiles on three hosts: one host's own deploy, a fleet deploy one host at a time
 * (FLEET_BATCH=1) and all at once (FLEET_BATCH=100%), for the example app (what the fleet itself
 * costs), an app that takes 3 s to boot and a CPU-bound tsc build, with the machine's CPU-seconds
 * for one host's deploy, which sets the floor for three at once on shared cores.
 */

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const FLEET_APP = fileURLToPath(new URL('../test/fixtures/apps/no-handler.js', import.meta.url));
const TSC = path.join(PROJECT_DIR, 'node_modules', 'typescript', 'bin', 'tsc');
const BUILD_FILES = 120;
const HOSTS = 3;

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

export type ProfilesOptions = {
  fleet: NetnsFleet;
  /** A new commit of the example app, `change` applied to its tree first. */
  commit: (change: (repo: string) => void) => string;
  /** The controller's `fleet` command over the first three hosts. */
  fleetRun: FleetRun;
};

export async function benchProfiles(options: ProfilesOptions): Promise<string[]> {
  const { fleet, fleetRun } = options;
  const hosts = fleet.hosts.slice(0, HOSTS);
  const profiles = [
    { name: 'the example app (no install, a build of milliseconds): what the fleet itself costs', build: 'node build.js', start: 'node server.js', project: false },
    { name: 'an app that takes 3 s to boot before it listens (a framework start, a database connection)', build: 'node build.js', start: 'sleep 3 && exec node server.js', project: false },
    { name: `a CPU-bound build: tsc over ${BUILD_FILES} generated TypeScript files`, build: `node build.js && node ${TSC} -p tsconfig.build.json`, start: 'node server.js', project: true },
  ];
  const originals = hosts.map((host) => readFileSync(path.join(host.srv, 'switchyard', '.env'), 'utf8'));
  const sections: string[] = [`## Three deploy profiles on ${HOSTS} hosts`, ''];
  try {
    for (const profile of profiles) {
      hosts.forEach((host, index) => {
        writeFileSync(path.join(host.srv, 'switchyard', '.env'), originals[index].replace(/^BUILD_CMD=.*$/m, `BUILD_CMD=${JSON.stringify(profile.build)}`).replace(/^START_CMD=.*$/m, `START_CMD=${JSON.stringify(profile.start)}`));
      });
      // A new commit each time: a host already serving the fleet's SHA is skipped.
      const next = () => options.commit((repo) => {
        copyFileSync(FLEET_APP, path.join(repo, 'server.js'));
        if (profile.project) writeTypeScriptProject(repo);
      });
      process.stdout.write(`\n${profile.name}\n`);
      await timed('  first fleet deploy of this profile (all at once)', fleetRun(['deploy', next()], { FLEET_BATCH: '100%', FLEET_CANARY_HOSTS: '0' }));
      const sha = next();
      const cpuBefore = machineCpuSeconds();
      const one = await timed("  one host's own deploy", () => hosts[0].run(['deploy', sha]));
      const cpu = machineCpuSeconds() - cpuBefore;
      const serial = await timed('  fleet deploy, FLEET_BATCH=1', fleetRun(['deploy', next()], { FLEET_BATCH: '1' }));
      const parallel = await timed('  fleet deploy, FLEET_BATCH=100%', fleetRun(['deploy', next()], { FLEET_BATCH: '100%', FLEET_CANARY_HOSTS: '0' }));
      const floor = Math.max(one, (HOSTS * cpu) / os.cpus().length);
      sections.push(
        `${profile.name[0].toUpperCase()}${profile.name.slice(1)}: one host's deploy used ${cpu.toFixed(1)} CPU-seconds of this machine, so ${HOSTS} at once cannot take under ${floor.toFixed(1)} s on its ${os.cpus().length} cores.`,
        '',
        '| what | seconds | × one host |',
        '| --- | --- | --- |',
        `| one host's own deploy (./deploy.ts deploy on the host) | ${one.toFixed(1)} | 1.0 |`,
        `| fleet deploy, FLEET_BATCH=1 (preflight, lease, ${HOSTS} deploys in turn) | ${serial.toFixed(1)} | ${(serial / one).toFixed(1)} |`,
        `| fleet deploy, FLEET_BATCH=100% (${HOSTS} deploys at once) | ${parallel.toFixed(1)} | ${(parallel / one).toFixed(1)} |`,
        `| the CPU floor of ${HOSTS} at once (${HOSTS} × CPU-seconds / cores) | ${floor.toFixed(1)} | ${(floor / one).toFixed(1)} |`,
        '',
      );
    }
  } finally {
    hosts.forEach((host, index) => writeFileSync(path.join(host.srv, 'switchyard', '.env'), originals[index]));
  }
  return sections;
}
