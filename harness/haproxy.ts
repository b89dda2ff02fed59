import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createExampleRepo } from './example-repo.ts';
import { DEPLOY_TS } from './host.ts';
import { acceptsConnections, freePort, freePortRuns, freePorts } from './ports.ts';

/** The shipped HAProxy example (templates/haproxy/): the config, switch.sh and check.sh, used as they are. */
export const HAPROXY_TEMPLATES = fileURLToPath(new URL('../templates/haproxy', import.meta.url));
export const HAPROXY_BACKEND = 'myapp';

export type TestHaproxy = { port: number; socket: string; pid: number; url(pathname: string): string; output(): string; stop(): Promise<void> };

/** The haproxy binary, or a failure that says how to install it (tests never skip silently). */
export function haproxyBinary(): string {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('haproxy is not installed: install it with `apt-get install -y haproxy` (Debian/Ubuntu); the SWITCH=command end-to-end tests need a real HAProxy');
}

/** templates/haproxy/haproxy.cfg with only what a test machine cannot share changed: the socket path, the listen port, the slots' ports. Pure. */
export function renderHaproxyConfig(template: string, values: { socket: string; port: number; ports: { a: number; b: number }; instances?: number }): string {
  const replace = (text: string, from: string, to: string) => {
    if (!text.includes(from)) throw new Error(`templates/haproxy/haproxy.cfg no longer holds ${from}; update harness/haproxy.ts`);
    return text.split(from).join(to);
  };
  let config = replace(template, '/run/haproxy/myapp.sock', values.socket);
  config = replace(config, 'bind 127.0.0.1:8080', `bind 127.0.0.1:${values.port}`);
  // INSTANCES=N: a slot's servers are a, a2 ... aN on its N ports, as the template's comment says.
  const servers = (slot: 'a' | 'b', suffix: string) =>
    Array.from({ length: values.instances ?? 1 }, (_, index) => `server ${slot}${index ? index + 1 : ''} 127.0.0.1:${values.ports[slot] + index}${suffix}`).join('\n    ');
  config = replace(config, 'server a 127.0.0.1:3001', servers('a', ''));
  return replace(config, 'server b 127.0.0.1:3002 disabled', servers('b', ' disabled'));
}

/** A real HAProxy in the foreground (-db), its config and stats socket in `dir`, on a loopback port; stopped by its pid. */
export async function startHaproxy(dir: string, options: { port: number; ports: { a: number; b: number }; instances?: number }): Promise<TestHaproxy> {
  const binary = haproxyBinary();
  const socket = path.join(dir, 'haproxy.sock');
  const configFile = path.join(dir, 'haproxy.cfg');
  writeFileSync(configFile, renderHaproxyConfig(readFileSync(path.join(HAPROXY_TEMPLATES, 'haproxy.cfg'), 'utf8'), { socket, ...options }));
  const child: ChildProcess = spawn(binary, ['-f', configFile, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 10_000;
  while (!(await acceptsConnections(options.port)) || !existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`test haproxy did not start on 127.0.0.1:${options.port}: ${output.trim() || 'no output'}`);
    }
    await sleep(50);
  }
  return {
    port: options.port,
    socket,
    pid: child.pid!,
    url: (pathname) => `http://127.0.0.1:${options.port}${pathname}`,
    output: () => output,
    async stop() {
      const exited = new Promise((resolve) => child.once('close', resolve));
      if (child.exitCode !== null || child.signalCode !== null) return;
      // Our own child, by its pid: a hard stop (SIGTERM), then SIGKILL if it lingers.
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(child.pid!, name);
        } catch {
          // Already gone.
        }
      };
      signal('SIGTERM');
      if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) signal('SIGKILL');
    },
  };
}

export type HaproxyHost = {
  dir: string;
  deployRoot: string;
  ports: { a: number; b: number };
  haproxy: TestHaproxy;
  example: ReturnType<typeof createExampleRepo>;
  /** The variables the templates' scripts read, as an operator would put them in front of SWITCH_CMD. */
  scriptVars: string;
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode: number; stdout: string; stderr: string; output: string }>;
  get(pathname: string): Promise<{ status: number; json: any; server: string | null }>;
  state(): any;
  cleanUp(): Promise<void>;
};

/**
 * A host with SWITCH=command and HAProxy: a real example-app git repo, a .env whose SWITCH_CMD and
 * SWITCH_CHECK_CMD are templates/haproxy/switch.sh and check.sh, and a real HAProxy from
 * templates/haproxy/haproxy.cfg. No nginx anywhere.
 */
export async function createHaproxyHost(options: { env?: Record<string, string>; app?: string; instances?: number } = {}): Promise<HaproxyHost> {
  haproxyBinary();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-haproxy-'));
  chmodSync(dir, 0o755);
  const appName = 'exampleapp';
  const instances = options.instances ?? 1;
  const [portA, portB, haproxyPort] = instances > 1 ? [...(await freePortRuns(2, instances)), await freePort()] : await freePorts(3);
  const ports = { a: portA, b: portB };
  const deployRoot = path.join(dir, 'root');
  const example = createExampleRepo(path.join(dir, 'repo'));
  if (options.app) {
    const app = options.app;
    example.commit('v1', (repo) => writeFileSync(path.join(repo, 'server.js'), readFileSync(app)));
  }
  const socket = path.join(dir, 'haproxy', 'haproxy.sock');
  const scriptVars = `HAPROXY_SOCKET=${socket} HAPROXY_BACKEND=${HAPROXY_BACKEND} HAPROXY_CHECK_URL=http://127.0.0.1:${haproxyPort}/health`;
  const envFile = path.join(dir, 'switchyard.env');
  const values: Record<string, string> = {
    APP_NAME: appName,
    REPO: example.repo,
    DEPLOY_ROOT: deployRoot,
    PORT_A: String(portA),
    PORT_B: String(portB),
    INSTALL_CMD: 'npm ci --no-audit --no-fund --loglevel=error',
    HEALTH_TIMEOUT: '20s',
    STOP_TIMEOUT: '15s',
    BAKE_TIME: '0',
    ...(instances > 1 ? { INSTANCES: String(instances) } : {}),
    SWITCH: 'command',
    SWITCH_CMD: `${scriptVars} ${path.join(HAPROXY_TEMPLATES, 'switch.sh')}`,
    SWITCH_CHECK_CMD: `${scriptVars} ${path.join(HAPROXY_TEMPLATES, 'check.sh')}`,
    ...options.env,
  };
  writeFileSync(envFile, Object.entries(values).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join('\n') + '\n');
  let haproxy: TestHaproxy | undefined;
  const host: HaproxyHost = {
    dir,
    deployRoot,
    ports,
    get haproxy() {
      if (!haproxy) throw new Error('the test haproxy is not started yet');
      return haproxy;
    },
    example,
    scriptVars,
    async run(args, env = {}) {
      const result = await execa(DEPLOY_TS, args, { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', ...env }, reject: false, timeout: 120_000, all: true, cwd: dir });
      return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr, output: result.all ?? '' };
    },
    async get(pathname) {
      const response = await fetch(host.haproxy.url(pathname), { headers: { connection: 'close' } });
      const body = await response.text();
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      return { status: response.status, json, server: response.headers.get('x-switchyard-server') };
    },
    state() {
      return JSON.parse(readFileSync(path.join(deployRoot, 'state.json'), 'utf8'));
    },
    async cleanUp() {
      for (const slot of ['a', 'b']) await host.run(['stop', `${appName}-${slot}`, '--force']);
      await haproxy?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    mkdirSync(path.dirname(socket), { recursive: true });
    haproxy = await startHaproxy(path.dirname(socket), { port: haproxyPort, ports, instances });
  } catch (error) {
    await host.cleanUp();
    throw error;
  }
  return host;
}
