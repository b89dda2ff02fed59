import { execa } from 'execa';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExampleRepo } from './example-repo.ts';
import { nginxLayout, startNginx, type TestNginx } from './nginx.ts';
import type { SwitchKind } from '../lib/config/config.ts';
import { freePort, freePortRuns, freePorts } from './ports.ts';
import { waitFor } from './wait.ts';
import { isBakeWatcher } from '../lib/cycle/bake.ts';
import { isAlive, signalProcess } from '../lib/host/process.ts';

export const DEPLOY_TS = fileURLToPath(new URL('../deploy.ts', import.meta.url));

/** A host with a real nginx in front of the slots: see createTestHost. */
export type TestHost = Pick<HostBase, 'dir' | 'envFile' | 'deployRoot' | 'ports' | 'example' | 'run' | 'state'> & {
  upstreamFile: string;
  nginx: TestNginx;
  get(pathname: string): Promise<{ status: number; body: string; json: any }>;
  /** Write the .env: the host's own keys, with `values` over them. */
  writeEnv(values: Record<string, string>): void;
  cleanUp(): Promise<void>;
};

/**
 * The example app's own build and start, without npm in front. The harness keeps Switchyard's
 * defaults (`npm run build --if-present`, `npm start`: what operators run, and what the tests of
 * signals, process trees, crashes, drains and the field use). Tests of Switchyard's own logic
 * (hooks, releases, output, the lock, the repository, bad input) pass these instead: npm's own start
 * is about 0.25 s of CPU each time, half the CPU of a whole deploy, and the suite makes ~300 deploys
 * on 2 cores.
 */
export const APP_WITHOUT_NPM = { BUILD_CMD: 'node build.js', START_CMD: 'node server.js' } as const;

/** What every test host shares, whatever its proxy: see hostBase. */
export type HostBase = {
  dir: string;
  appName: string;
  deployRoot: string;
  envFile: string;
  ports: { a: number; b: number };
  /** A free loopback port for the proxy in front of the slots (nginx, HAProxy). */
  proxyPort: number;
  example: ReturnType<typeof createExampleRepo>;
  /** The .env keys every host sets: the app, its repo, DEPLOY_ROOT, the ports, quick bounds, no bake window. */
  env: Record<string, string>;
  writeEnv(values: Record<string, string>): void;
  /** Run ./deploy.ts exactly as an operator would, with extra environment. */
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string; output: string }>;
  /** One GET on a fresh connection: status, body, JSON (if it is) and headers. */
  fetch(url: string): Promise<{ status: number; body: string; json: any; headers: Headers }>;
  state(): any;
  /** Stop only what the tests started: the slots' supervisors, by pid file, through the tool. */
  stopSlots(): Promise<void>;
};

/** A temp dir (0755, like /srv) with a real example-app repo, the slots' ports (INSTANCES runs of them), a .env and a runner. */
export async function hostBase(prefix: string, options: { instances?: number } = {}): Promise<HostBase> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  // Like /srv: others may pass through; DEPLOY_ROOT inside is Switchyard's to keep private.
  chmodSync(dir, 0o755);
  const appName = 'exampleapp';
  const instances = options.instances ?? 1;
  const [portA, portB, proxyPort] = instances > 1 ? [...(await freePortRuns(2, instances)), await freePort()] : await freePorts(3);
  const deployRoot = path.join(dir, 'root');
  const example = createExampleRepo(path.join(dir, 'repo'));
  const envFile = path.join(dir, 'switchyard.env');
  const base: HostBase = {
    dir,
    appName,
    deployRoot,
    envFile,
    ports: { a: portA, b: portB },
    proxyPort,
    example,
    env: {
      APP_NAME: appName,
      REPO: example.repo,
      DEPLOY_ROOT: deployRoot,
      PORT_A: String(portA),
      PORT_B: String(portB),
      ...(instances > 1 ? { INSTANCES: String(instances) } : {}),
      INSTALL_CMD: 'npm ci --no-audit --no-fund --loglevel=error',
      HEALTH_TIMEOUT: '20s',
      STOP_TIMEOUT: '15s',
      // Tests of the drain right after a deploy turn the bake window off; test/e2e/bake.test.ts tests it.
      BAKE_TIME: '0',
    },
    writeEnv(values) {
      writeFileSync(envFile, Object.entries(values).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join('\n') + '\n');
    },
    async run(args, env = {}) {
      const result = await execa(DEPLOY_TS, args, { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', ...env }, reject: false, timeout: 120_000, all: true, cwd: dir });
      return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, output: result.all ?? '' };
    },
    async fetch(url) {
      const response = await fetch(url, { headers: { connection: 'close' } });
      const body = await response.text();
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      return { status: response.status, body, json, headers: response.headers };
    },
    state() {
      return JSON.parse(readFileSync(path.join(deployRoot, 'state.json'), 'utf8'));
    },
    async stopSlots() {
      // A bake watcher holds the lock while it drains, and `stop` refuses a slot then (the live one was
      // left running in a deleted folder): SIGTERM makes it stand down, or finish that drain first.
      let watcher: number | undefined;
      try {
        watcher = base.state().bake?.watcherPid;
      } catch {
        // No state file: no window.
      }
      if (watcher && isBakeWatcher(watcher)) {
        signalProcess(watcher, 'SIGTERM');
        await waitFor('the bake watcher to exit after SIGTERM', () => !isAlive(watcher), { timeoutMs: 60_000 });
      }
      for (const slot of ['a', 'b']) await base.run(['stop', `${appName}-${slot}`, '--force']);
    },
  };
  return base;
}

/**
 * A whole host in a temp dir, set up the way the README tells an operator to: a real example-app git
 * repo, a .env (passed through DEPLOY_ENV_FILE) that leaves every path at its default, the upstream
 * written by `./deploy.ts upstream --write`, and a real nginx serving the site `./deploy.ts
 * nginx-site` printed. Only what a test machine cannot share with a real host is set: the ports, and
 * nginx's own test and reload commands and pid file for its private prefix. Run as root (CI), nginx's
 * workers run as nobody and reach only what other users may.
 */
export async function createTestHost(
  options: { switchKind?: SwitchKind; env?: Record<string, string>; instances?: number } = {},
): Promise<TestHost> {
  const base = await hostBase('switchyard-test-', options);
  const { dir, deployRoot, envFile } = base;
  const nginxLayoutInfo = nginxLayout(path.join(dir, 'nginx'));
  let nginx: TestNginx | undefined;
  const baseEnv: Record<string, string> = {
    ...base.env,
    ...(options.switchKind ? { SWITCH: options.switchKind } : {}),
    NGINX_LISTEN: `127.0.0.1:${base.proxyPort}`,
    NGINX_TEST_CMD: nginxLayoutInfo.testCmd,
    NGINX_RELOAD_CMD: nginxLayoutInfo.reloadCmd,
    NGINX_PID_FILE: nginxLayoutInfo.pidFile,
    ...options.env,
  };
  const host: TestHost = {
    dir,
    envFile,
    deployRoot,
    upstreamFile: path.join(deployRoot, 'nginx', 'upstream.conf'),
    ports: base.ports,
    get nginx() {
      if (!nginx) throw new Error('the test nginx is not started yet');
      return nginx;
    },
    example: base.example,
    writeEnv: (values) => base.writeEnv({ ...baseEnv, ...values }),
    run: base.run,
    async get(pathname) {
      const { status, body, json } = await base.fetch(host.nginx.url(pathname));
      return { status, body, json };
    },
    state: base.state,
    async cleanUp() {
      await base.stopSlots();
      await nginx?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  host.writeEnv({});
  try {
    const upstream = await host.run(['upstream', '--write']);
    if (upstream.exitCode !== 0) throw new Error(`./deploy.ts upstream --write failed (exit ${upstream.exitCode}):\n${upstream.output}`);
    const site = await host.run(['nginx-site']);
    if (site.exitCode !== 0) throw new Error(`./deploy.ts nginx-site failed (exit ${site.exitCode}):\n${site.output}`);
    nginx = await startNginx(path.join(dir, 'nginx'), { site: site.stdout, port: base.proxyPort });
  } catch (error) {
    await host.cleanUp();
    throw error;
  }
  return host;
}

/** A test host with the example app's first commit already deployed (the set-up most tests start from). */
export async function createDeployedTestHost(options: Parameters<typeof createTestHost>[0] = {}): Promise<TestHost> {
  const host = await createTestHost(options);
  const first = await host.run(['deploy']);
  if (first.exitCode !== 0) {
    await host.cleanUp();
    throw new Error(`the first deploy of the test host failed (exit ${first.exitCode}):\n${first.output}`);
  }
  return host;
}
