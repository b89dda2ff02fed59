import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import type { LoadOptions } from '../../harness/load.ts';
import { createNetnsFleet, startFront, type FleetFront, type NetnsFleet } from '../../harness/netns.ts';
import { freePort } from '../../harness/ports.ts';
import { fixtureApp } from './fixture-app.ts';

/**
 * What every fleet end-to-end test sets up (not a test file itself): a folder of its own, the example
 * repository with the tests' app (a "sick" VERSION is sick where the host's /srv/sick exists), real
 * hosts in network namespaces (harness/netns.ts), a HAProxy front if asked, and the controller: this
 * machine, its .env holding FLEET_ keys only, reaching the hosts over the system ssh.
 */
export type FleetTestOptions = {
  /** The test folder's prefix under TMPDIR. */
  name: string;
  count: number;
  /** Each host's .env, besides what the harness sets; a function: made from the test's folder. */
  hostEnv?: Record<string, string> | ((dir: string) => Record<string, string>);
  /** A front: HAProxy round robin over every host, or a config the test makes from the hosts, the front's port and the folder. */
  front?: 'round-robin' | ((made: { fleet: NetnsFleet; port: number; dir: string }) => string);
};

export type FleetRun = { exitCode: number; output: string; stdout: string; stderr: string };

export type FleetTest = {
  dir: string;
  example: ReturnType<typeof createExampleRepo>;
  fleet: NetnsFleet;
  /** The front; a test that asked for none and reads it fails saying so. */
  readonly front: FleetFront;
  /** The controller's .env (DEPLOY_ENV_FILE). */
  envFile: string;
  /** Commits the app at `version` (what it answers with); gives the commit. */
  commitVersion(version: string): string;
  /** Writes the controller's .env: FLEET_HOSTS, FLEET_SSH_CONFIG, FLEET_REMOTE, then `keys` in their order. */
  writeController(keys?: Record<string, string>): void;
  /** `./deploy.ts fleet ...args` running (to signal or wait on); `env` over the controller's. */
  command(args: string[], env?: Record<string, string>): ResultPromise<{ all: true; reject: false; timeout: number }>;
  run(args: string[], env?: Record<string, string>): Promise<FleetRun>;
  /** Each host's live commit, in FLEET_HOSTS order (null: none live). */
  liveCommits(): (string | null)[];
  /** The different answers of `count` requests to the front on fresh connections, as `describe` reads each, sorted. */
  served(describe: (response: Response) => Promise<string> | string, count?: number): Promise<string[]>;
  /** The versions the front serves now (30 answers). */
  servedVersions(): Promise<string[]>;
  /** The fleet tests' load through the front: GET, POST and slow POST on `connections` connections, bounded. */
  load(connections?: number): LoadOptions & { leadMs: number; tailMs: number };
  cleanUp(): Promise<void>;
};

/** One key of a .env: double quotes unless the value holds one (then single quotes); plain words as they are. */
function envLine(key: string, value: string): string {
  if (/^[\w./%:@,-]*$/.test(value)) return `${key}=${value}`;
  if (value.includes('"') && value.includes("'")) throw new Error(`${key}: a value with both kinds of quote cannot be written to a .env line`);
  return value.includes('"') ? `${key}='${value}'` : `${key}="${value}"`;
}

export async function startFleetTest(options: FleetTestOptions): Promise<FleetTest> {
  const dir = mkdtempSync(path.join(os.tmpdir(), options.name));
  let fleet: NetnsFleet | undefined;
  let front: FleetFront | undefined;
  const cleanUp = async () => {
    await front?.stop();
    await fleet?.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const example = createExampleRepo(path.join(dir, 'repo'));
    const commitVersion = (version: string) => example.commit(version, fixtureApp());
    commitVersion('v1');
    const made = await createNetnsFleet({ count: options.count, repo: example.repo, env: typeof options.hostEnv === 'function' ? options.hostEnv(dir) : options.hostEnv });
    fleet = made;
    if (options.front) {
      const port = await freePort();
      const addresses = made.hosts.map((host) => host.address);
      front = options.front === 'round-robin' ? await startFront(dir, addresses, port) : await startFront(dir, [], port, options.front({ fleet: made, port, dir }));
    }
    const envFile = path.join(dir, 'fleet.env');
    // XDG_RUNTIME_DIR: the controller's ssh control folders go in the test's own folder, even the one a SIGKILLed controller leaves.
    const command = (args: string[], env: Record<string, string> = {}) =>
      execa(DEPLOY_TS, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', XDG_RUNTIME_DIR: dir, ...env }, reject: false, all: true, timeout: 400_000 });
    const served = async (describe: (response: Response) => Promise<string> | string, count = 30) => {
      const seen = new Set<string>();
      for (let index = 0; index < count; index++) seen.add(await describe(await fetch(test.front.url('/'), { headers: { connection: 'close' } })));
      return [...seen].sort();
    };
    const test: FleetTest = {
      dir,
      example,
      fleet: made,
      get front() {
        if (!front) throw new Error(`${options.name}: this fleet test was started without a front (startFleetTest's front option)`);
        return front;
      },
      envFile,
      commitVersion,
      writeController(keys = {}) {
        writeFileSync(envFile, [
          envLine('FLEET_HOSTS', made.hosts.map((host) => host.target).join(', ')),
          envLine('FLEET_SSH_CONFIG', made.sshConfig),
          envLine('FLEET_REMOTE', '/srv/switchyard/deploy.ts'),
          ...Object.entries(keys).map(([key, value]) => envLine(key, value)),
          '',
        ].join('\n'));
      },
      command,
      async run(args, env = {}) {
        const result = await command(args, env);
        return { exitCode: result.exitCode ?? -1, output: String(result.all ?? ''), stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
      },
      liveCommits: () => made.hosts.map((host) => {
        const state = host.state();
        return state.live ? state.slots[state.live].commit : null;
      }),
      served,
      servedVersions: () => served(async (response) => (await response.json()).version),
      load: (connections = 8) => ({
        port: test.front.port, connections, mix: { fast: 0.6, post: 0.2, slowpost: 0.2 }, slowMs: [200, 800],
        maxDurationMs: 300_000, leadMs: 800, tailMs: 500,
      }),
      cleanUp,
    };
    return test;
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
