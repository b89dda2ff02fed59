import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createExampleRepo } from './example-repo.ts';
import { startNginx, type TestNginx } from './nginx.ts';
import { freePorts } from './ports.ts';
import { renderUpstream, upstreamName } from '../lib/switch/upstream.ts';

export const DEPLOY_TS = fileURLToPath(new URL('../deploy.ts', import.meta.url));

export type TestHost = {
  dir: string;
  envFile: string;
  deployRoot: string;
  upstreamFile: string;
  ports: { a: number; b: number };
  nginx: TestNginx;
  example: ReturnType<typeof createExampleRepo>;
  /** Run ./deploy.ts exactly as an operator would, with extra environment. */
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string; output: string }>;
  get(pathname: string): Promise<{ status: number; body: string; json: any }>;
  state(): any;
  writeEnv(values: Record<string, string>): void;
  cleanUp(): Promise<void>;
};

/**
 * A whole host in a temp dir: a real example-app git repo, a real unprivileged nginx running the
 * site template, free loopback ports for the slots, and a .env passed through DEPLOY_ENV_FILE.
 */
export async function createTestHost(options: { switchKind?: 'nginx' | 'nginx-live-file' | 'passive' | 'none'; env?: Record<string, string> } = {}): Promise<TestHost> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-test-'));
  const appName = 'exampleapp';
  const [portA, portB] = await freePorts(2);
  const ports = { a: portA, b: portB };
  const deployRoot = path.join(dir, 'root');
  const upstreamFile = path.join(dir, 'nginx-upstream.conf');
  const example = createExampleRepo(path.join(dir, 'repo'));
  const switchKind = options.switchKind ?? 'nginx';
  writeFileSync(
    upstreamFile,
    switchKind === 'passive'
      ? renderUpstream({ kind: 'passive', appName, host: '127.0.0.1', ports: [portA, portB] })
      : switchKind === 'nginx-live-file'
        ? renderUpstream({ kind: 'per-slot', appName, host: '127.0.0.1', ports })
        : renderUpstream({ kind: 'live', appName, host: '127.0.0.1', live: { slot: 'a', port: portA }, standby: { slot: 'b', port: portB } }),
  );
  // nginx workers run as nobody when the tests run as root: the live-file folder must be reachable.
  const liveDir = path.join(dir, 'live');
  mkdirSync(liveDir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const nginx = await startNginx(path.join(dir, 'nginx'), { upstreamFile, upstreamName: upstreamName(appName), liveDir: switchKind === 'nginx-live-file' ? liveDir : undefined });
  const envFile = path.join(dir, 'switchyard.env');
  const baseEnv: Record<string, string> = {
    APP_NAME: appName,
    REPO: example.repo,
    DEPLOY_ROOT: deployRoot,
    PORT_A: String(portA),
    PORT_B: String(portB),
    INSTALL_CMD: 'npm ci --no-audit --no-fund --loglevel=error',
    HEALTH_TIMEOUT: '20s',
    STOP_TIMEOUT: '15s',
    SWITCH: switchKind,
    NGINX_UPSTREAM_FILE: upstreamFile,
    NGINX_TEST_CMD: nginx.testCmd,
    NGINX_RELOAD_CMD: nginx.reloadCmd,
    NGINX_PID_FILE: nginx.pidFile,
    NGINX_CHECK_URL: nginx.url('/__switchyard/health'),
    NGINX_LIVE_DIR: liveDir,
    ...options.env,
  };
  const host: TestHost = {
    dir,
    envFile,
    deployRoot,
    upstreamFile,
    ports,
    nginx,
    example,
    writeEnv(values) {
      writeFileSync(envFile, Object.entries({ ...baseEnv, ...values }).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join('\n') + '\n');
    },
    async run(args, env = {}) {
      const result = await execa(DEPLOY_TS, args, {
        env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', ...env },
        reject: false,
        timeout: 120_000,
        all: true,
        cwd: dir,
      });
      return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, output: result.all ?? '' };
    },
    async get(pathname) {
      const response = await fetch(nginx.url(pathname), { headers: { connection: 'close' } });
      const body = await response.text();
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      return { status: response.status, body, json };
    },
    state() {
      return JSON.parse(readFileSync(path.join(deployRoot, 'state.json'), 'utf8'));
    },
    async cleanUp() {
      // Stop only what these tests started: the slots' supervisors (by pid file, through the tool) and our nginx.
      for (const slot of ['a', 'b']) await host.run(['stop', `${appName}-${slot}`, '--force']);
      await nginx.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  host.writeEnv({});
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
