import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { nginxBinary, nginxLayout } from './nginx.ts';
import { waitFor } from './wait.ts';

/**
 * Real hosts on this machine: each an `ip netns` with a veth pair to the root namespace (an address
 * of a test subnet that exists only there), its own /srv (a mount namespace with a bind mount), its
 * own sshd (root, key only, a host key the client's known_hosts holds), nginx started as root (its
 * workers run as nobody) and Switchyard in /srv/switchyard as the package installs it, with the host's own .env. The
 * ports are the host's own (3001, 3002, 80): each namespace has its own. Needs root.
 */

const PROJECT = fileURLToPath(new URL('..', import.meta.url));

export function requireNetnsPrograms(): void {
  const needs: Record<string, string> = { ip: 'iproute2', unshare: 'util-linux', nsenter: 'util-linux', '/usr/sbin/sshd': 'openssh-server', ssh: 'openssh-client', 'ssh-keygen': 'openssh-client' };
  const missing = Object.entries(needs).filter(([program]) => spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0).map(([, pkg]) => pkg);
  if (missing.length > 0) throw new Error(`the fleet tests need ${[...new Set(missing)].join(', ')}: apt-get install -y ${[...new Set(missing)].join(' ')} (.ci/run does it)`);
  if (process.getuid?.() !== 0) throw new Error('the fleet tests make network namespaces and run sshd and nginx: run them as root (CI does)');
  nginxBinary();
}

export type NetnsHost = {
  index: number;
  ns: string;
  address: string;
  /** The host's /srv, as the root namespace sees it. */
  srv: string;
  /** How FLEET_HOSTS names it. */
  target: string;
  /** The host's DEPLOY_ROOT as the host sees it (/srv/fleetapp) and as the root namespace does. */
  deployRoot: string;
  deployRootOutside: string;
  /** ./deploy.ts on the host itself, as an operator logged in there would run it. */
  run(args: string[], env?: Record<string, string>): Promise<{ exitCode: number; output: string; stdout: string }>;
  state(): any;
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
};

export type NetnsFleet = { dir: string; subnet: string; hosts: NetnsHost[]; sshConfig: string; cleanUp(): Promise<void> };

const children: ChildProcess[] = [];

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** A /24 of 10.231.0.0/16 no interface on this machine has: unique per test file, even across agents. */
function freeSubnet(): number {
  const taken = execFileSync('ip', ['-o', '-4', 'addr'], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 200; attempt++) {
    const third = 1 + Math.floor(Math.random() * 250);
    if (!taken.includes(` 10.231.${third}.`) && !existsSync(`/run/netns/swyfl${third}h1`)) return third;
  }
  throw new Error('no free 10.231.X.0/24 test subnet');
}

/**
 * Switchyard built once from this checkout (the sources copied, node_modules linked, the bundle made),
 * for each host to get what the package ships (below).
 */
function switchyardBuild(dir: string): string {
  const source = path.join(dir, 'switchyard-build');
  mkdirSync(source);
  for (const entry of ['deploy.ts', 'lib', 'scripts', 'templates', 'graceful', 'tools', 'package.json', 'package-lock.json', 'tsconfig.json', '.env.example']) {
    if (existsSync(path.join(PROJECT, entry))) {
      cpSync(path.join(PROJECT, entry), path.join(source, entry), { recursive: true, preserveTimestamps: true });
    }
  }
  symlinkSync(path.join(PROJECT, 'node_modules'), path.join(source, 'node_modules'));
  execFileSync(process.execPath, [path.join(source, 'tools', 'bundle.mjs')], { cwd: source, stdio: 'pipe' });
  return source;
}

/**
 * Switchyard as a host has it after `npm install -g switchyard`: what package.json's `files` ships (the
 * bundle, no sources, so every command runs the bundle), package.json, and the dependencies.
 */
function installSwitchyard(build: string, target: string): void {
  const shipped: string[] = JSON.parse(readFileSync(path.join(build, 'package.json'), 'utf8')).files;
  mkdirSync(target);
  for (const entry of [...shipped, 'package.json']) {
    const from = path.join(build, entry);
    if (existsSync(from)) cpSync(from, path.join(target, entry), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  }
  symlinkSync(path.join(PROJECT, 'node_modules'), path.join(target, 'node_modules'));
}

export type FleetHostOptions = {
  count: number;
  /** Each host's .env, besides what the harness sets (the app, REPO, DEPLOY_ROOT, nginx's commands). */
  env?: Record<string, string>;
  repo: string;
};

export async function createNetnsFleet(options: FleetHostOptions): Promise<NetnsFleet> {
  requireNetnsPrograms();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'swy-fleet-'));
  chmodSync(dir, 0o755);
  const third = freeSubnet();
  const hosts: NetnsHost[] = [];
  const made: { ns: string; veth: string; holder?: ChildProcess; sshd?: ChildProcess }[] = [];
  const fleet: NetnsFleet = {
    dir,
    subnet: `10.231.${third}.0/24`,
    hosts,
    sshConfig: path.join(dir, 'ssh_config'),
    async cleanUp() {
      for (const host of made) {
        // Everything started inside the host (sshd, its sessions, nginx, the slots, a bake watcher) is in its netns.
        const pids = spawnSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone already.
          }
        }
        host.holder?.kill('SIGKILL');
        spawnSync('ip', ['netns', 'del', host.ns]);
        spawnSync('ip', ['link', 'del', host.veth]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const clientKey = path.join(dir, 'client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet-test', '-f', clientKey]);
    const build = switchyardBuild(dir);
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    mkdirSync('/srv', { recursive: true });
    const knownHosts: string[] = [];
    for (let index = 1; index <= options.count; index++) {
      const ns = `swyfl${third}h${index}`;
      const veth = `swf${third}h${index}`;
      const peer = `swf${third}p${index}`;
      const address = `10.231.${third}.${4 * index + 2}`;
      const entry: (typeof made)[number] = { ns, veth };
      made.push(entry);
      ip('netns', 'add', ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', peer);
      ip('link', 'set', peer, 'netns', ns);
      ip('addr', 'add', `10.231.${third}.${4 * index + 1}/30`, 'dev', veth);
      ip('link', 'set', veth, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', peer);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      const hostDir = path.join(dir, `h${index}`);
      const srv = path.join(hostDir, 'srv');
      mkdirSync(srv, { recursive: true });
      chmodSync(hostDir, 0o755);
      chmodSync(srv, 0o755);
      // The host's mount namespace: one process holds it; sshd and nginx join it (and the netns) by nsenter.
      // Its root's home is its own too, as on a fresh host: the distribution's dotfiles, not this
      // machine's (a developer's .bashrc that runs `pyenv init` costs every ssh session ~0.5 s).
      const home = path.join(hostDir, 'root');
      mkdirSync(home, { mode: 0o700 });
      for (const file of ['.bashrc', '.profile']) if (existsSync(path.join('/etc/skel', file))) cpSync(path.join('/etc/skel', file), path.join(home, file));
      const holder = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" /srv && mount --bind "$2" /root && exec sleep 100000', 'sh', srv, home], { stdio: 'ignore' });
      entry.holder = holder;
      children.push(holder);
      await waitFor(`the mount namespace of ${ns}`, () => {
        try {
          return readFileSync(`/proc/${holder.pid}/comm`, 'utf8').trim() === 'sleep' && [' /srv ', ' /root '].every((point) => readFileSync(`/proc/${holder.pid}/mountinfo`, 'utf8').includes(point));
        } catch {
          return false;
        }
      }, { timeoutMs: 30_000 });
      const inHost = (argv: string[]) => ['nsenter', '-t', String(holder.pid), '-m', '-n', '--', ...argv];
      // Switchyard at /srv/switchyard, its .env beside it (a folder outside node_modules keeps its config there).
      installSwitchyard(build, path.join(srv, 'switchyard'));
      const layout = nginxLayout('/srv/nginx');
      const hostEnv: Record<string, string> = {
        APP_NAME: 'fleetapp',
        REPO: options.repo,
        DEPLOY_ROOT: '/srv/fleetapp',
        INSTALL_CMD: '',
        BUILD_CMD: 'node build.js',
        START_CMD: 'node server.js',
        NGINX_LISTEN: '80',
        NGINX_TEST_CMD: layout.testCmd,
        NGINX_RELOAD_CMD: layout.reloadCmd,
        NGINX_PID_FILE: layout.pidFile,
        HEALTH_TIMEOUT: '20s',
        STOP_TIMEOUT: '15s',
        BAKE_TIME: '0',
        ...options.env,
      };
      writeFileSync(path.join(srv, 'switchyard', '.env'), Object.entries(hostEnv).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join('\n') + '\n');
      const sshDir = path.join(hostDir, 'ssh');
      mkdirSync(sshDir, { mode: 0o700 });
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(sshDir, 'host_key')]);
      writeFileSync(path.join(sshDir, 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o600 });
      knownHosts.push(`${address} ${readFileSync(path.join(sshDir, 'host_key.pub'), 'utf8').trim()}`);
      const sshdConfig = path.join(sshDir, 'sshd_config');
      writeFileSync(sshdConfig, [
        'Port 22', 'ListenAddress 0.0.0.0', `HostKey ${path.join(sshDir, 'host_key')}`, `PidFile ${path.join(sshDir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${path.join(sshDir, 'authorized_keys')}`, 'PubkeyAuthentication yes', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
        'UsePAM no', 'PermitRootLogin prohibit-password', 'AllowUsers root', 'StrictModes no', 'MaxStartups 100', 'MaxSessions 100', 'LogLevel ERROR', '',
      ].join('\n'));
      const startSshd = () => {
        const sshd = spawn(inHost(['/usr/sbin/sshd', '-D', '-e', '-f', sshdConfig])[0], inHost(['/usr/sbin/sshd', '-D', '-e', '-f', sshdConfig]).slice(1), { stdio: 'ignore' });
        entry.sshd = sshd;
        children.push(sshd);
      };
      startSshd();
      const run: NetnsHost['run'] = async (args, env = {}) => {
        const result = await execa(inHost(['/srv/switchyard/deploy.ts', ...args])[0], inHost(['/srv/switchyard/deploy.ts', ...args]).slice(1), { env: { NO_COLOR: '1', ...env }, reject: false, all: true, timeout: 120_000 });
        return { exitCode: result.exitCode ?? -1, output: result.all ?? '', stdout: result.stdout };
      };
      for (const args of [['upstream', '--write'], ['nginx-site']]) {
        const result = await run(args);
        if (result.exitCode !== 0) throw new Error(`${ns}: ./deploy.ts ${args.join(' ')} failed:\n${result.output}`);
        if (args[0] === 'nginx-site') startHostNginx(path.join(srv, 'nginx'), result.stdout, inHost);
      }
      hosts.push({
        index,
        ns,
        address,
        srv,
        target: `ssh://root@${address}:22`,
        deployRoot: '/srv/fleetapp',
        deployRootOutside: path.join(srv, 'fleetapp'),
        run,
        state: () => JSON.parse(readFileSync(path.join(srv, 'fleetapp', 'state.json'), 'utf8')),
        async startSshd() {
          startSshd();
          await waitFor(`sshd of ${ns}`, async () => (await execa('nsenter', ['-t', String(holder.pid), '-n', '--', 'bash', '-c', 'exec 4<>/dev/tcp/127.0.0.1/22'], { reject: false })).exitCode === 0, { timeoutMs: 30_000 });
        },
        async stopSshd() {
          const sshd = entry.sshd;
          if (!sshd || sshd.exitCode !== null) return;
          const exited = new Promise((resolve) => sshd.once('exit', resolve));
          sshd.kill('SIGTERM');
          await exited;
        },
      });
    }
    writeFileSync(path.join(dir, 'known_hosts'), knownHosts.join('\n') + '\n');
    writeFileSync(fleet.sshConfig, [
      'Host *', `  IdentityFile ${clientKey}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${path.join(dir, 'known_hosts')}`, '  StrictHostKeyChecking yes', '  LogLevel ERROR', '',
    ].join('\n'));
    // Every host answers through its nginx before a test starts.
    for (const host of hosts) await waitFor(`nginx and sshd of ${host.ns}`, async () => (await execa('nsenter', ['-t', String(made[host.index - 1].holder!.pid), '-n', '--', 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/80 && exec 4<>/dev/tcp/127.0.0.1/22'], { reject: false, shell: false })).exitCode === 0, { timeoutMs: 30_000 });
    return fleet;
  } catch (error) {
    await fleet.cleanUp();
    throw error;
  }
}

/** nginx as root inside the host (workers as nobody), on port 80 of the host, serving the site ./deploy.ts nginx-site printed. */
function startHostNginx(outside: string, site: string, inHost: (argv: string[]) => string[]): void {
  const inside = '/srv/nginx';
  mkdirSync(path.join(outside, 'tmp'), { recursive: true });
  chmodSync(outside, 0o755);
  writeFileSync(path.join(outside, 'site.conf'), site);
  const temp = (name: string) => `${name}_temp_path ${inside}/tmp/${name};`;
  writeFileSync(path.join(outside, 'nginx.conf'), [
    'worker_processes 1;', 'daemon off;', `pid ${inside}/nginx.pid;`, `error_log ${inside}/error.log warn;`, 'events { worker_connections 1024; }',
    'http {', '  access_log off;', `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`, `  include ${inside}/site.conf;`, '}', '',
  ].join('\n'));
  const argv = inHost([nginxBinary(), '-p', inside, '-c', `${inside}/nginx.conf`]);
  children.push(spawn(argv[0], argv.slice(1), { stdio: 'ignore' }));
}

export type FleetFront = { port: number; url(pathname: string): string; stop(): Promise<void> };

/**
 * A real HAProxy on a loopback port in front of the hosts' nginx (round robin, keep-alive), in the
 * root namespace; `configText` instead of that: a rendered templates/fleet/haproxy-front.cfg.
 */
export async function startFront(dir: string, addresses: string[], port: number, configText?: string): Promise<FleetFront> {
  const config = path.join(dir, 'front.cfg');
  writeFileSync(config, configText ?? [
    'global', '  maxconn 2000',
    'defaults', '  mode http', '  timeout connect 5s', '  timeout client 30s', '  timeout server 30s', '  option http-keep-alive', '  retries 2',
    'frontend front', `  bind 127.0.0.1:${port}`, '  default_backend hosts',
    'backend hosts', '  balance roundrobin',
    ...addresses.map((address, index) => `  server h${index + 1} ${address}:80`), '',
  ].join('\n'));
  const { haproxyBinary } = await import('./haproxy.ts');
  const child = spawn(haproxyBinary(), ['-f', config, '-db'], { stdio: 'ignore' });
  const { acceptsConnections } = await import('./ports.ts');
  await waitFor('the front HAProxy', () => acceptsConnections(port), { timeoutMs: 10_000 });
  return {
    port,
    url: (pathname) => `http://127.0.0.1:${port}${pathname}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
