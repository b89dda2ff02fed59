import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { hostBase, type HostBase } from './host.ts';
import { acceptsConnections } from './ports.ts';

/** The shipped HAProxy example (templates/haproxy/): the config, switch.sh and check.sh, used as they are. */
export const HAPROXY_TEMPLATES = fileURLToPath(new URL('../templates/haproxy', import.meta.url));
export const HAPROXY_BACKEND = 'myapp';

export type TestHaproxy = {
  port: number;
  socket: string;
  pid: number;
  url(pathname: string): string;
  output(): string;
  stop(): Promise<void>;
};

/** The haproxy binary, or a failure that says how to install it (tests never skip silently). */
export function haproxyBinary(): string {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('haproxy is not installed: install it with `apt-get install -y haproxy` (Debian/Ubuntu); the SWITCH=command end-to-end tests need a real HAProxy');
}

/** templates/haproxy/haproxy.cfg with only what a test machine cannot share changed: the socket path, the listen port, the slots' ports. Pure. */
export function renderHaproxyConfig(
  template: string,
  values: { socket: string; port: number; ports: { a: number; b: number }; instances?: number },
): string {
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
export async function startHaproxy(
  dir: string,
  options: { port: number; ports: { a: number; b: number }; instances?: number },
): Promise<TestHaproxy> {
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

export type HaproxyHost = Pick<HostBase, 'dir' | 'deployRoot' | 'ports' | 'example' | 'run' | 'state'> & {
  haproxy: TestHaproxy;
  /** The variables the templates' scripts read, as an operator would put them in front of SWITCH_CMD. */
  scriptVars: string;
  get(pathname: string): Promise<{ status: number; json: any; server: string | null }>;
  cleanUp(): Promise<void>;
};

/**
 * A host with SWITCH=command and HAProxy: a real example-app git repo, a .env whose SWITCH_CMD and
 * SWITCH_CHECK_CMD are templates/haproxy/switch.sh and check.sh, and a real HAProxy from
 * templates/haproxy/haproxy.cfg. No nginx anywhere.
 */
export async function createHaproxyHost(
  options: { env?: Record<string, string>; app?: string; instances?: number } = {},
): Promise<HaproxyHost> {
  haproxyBinary();
  const base = await hostBase('switchyard-haproxy-', options);
  const { dir, example } = base;
  if (options.app) {
    const app = options.app;
    example.commit('v1', (repo) => writeFileSync(path.join(repo, 'server.js'), readFileSync(app)));
  }
  const socket = path.join(dir, 'haproxy', 'haproxy.sock');
  const scriptVars = `HAPROXY_SOCKET=${socket} HAPROXY_BACKEND=${HAPROXY_BACKEND} HAPROXY_CHECK_URL=http://127.0.0.1:${base.proxyPort}/health`;
  base.writeEnv({
    ...base.env,
    SWITCH: 'command',
    SWITCH_CMD: `${scriptVars} ${path.join(HAPROXY_TEMPLATES, 'switch.sh')}`,
    SWITCH_CHECK_CMD: `${scriptVars} ${path.join(HAPROXY_TEMPLATES, 'check.sh')}`,
    ...options.env,
  });
  let haproxy: TestHaproxy | undefined;
  const host: HaproxyHost = {
    dir,
    deployRoot: base.deployRoot,
    ports: base.ports,
    get haproxy() {
      if (!haproxy) throw new Error('the test haproxy is not started yet');
      return haproxy;
    },
    example,
    scriptVars,
    run: base.run,
    async get(pathname) {
      const { status, json, headers } = await base.fetch(host.haproxy.url(pathname));
      return { status, json, server: headers.get('x-switchyard-server') };
    },
    state: base.state,
    async cleanUp() {
      await base.stopSlots();
      await haproxy?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    mkdirSync(path.dirname(socket), { recursive: true });
    haproxy = await startHaproxy(path.dirname(socket), { port: base.proxyPort, ports: base.ports, instances: options.instances });
  } catch (error) {
    await host.cleanUp();
    throw error;
  }
  return host;
}
