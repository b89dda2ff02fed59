import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acceptsConnections as reachable, freePort } from './ports.ts';

/**
 * A real OpenSSH server on a free loopback port and a real deploy user for it, as on a fresh host:
 * created with useradd, key-only login, sshd's ExposeAuthInfo on (so Switchyard can name the key).
 * Needs root. Everything it makes is removed by `remove()`: the user, its home, its processes.
 */

const PROJECT = fileURLToPath(new URL('..', import.meta.url));

/** The programs the first-hour test needs, or a failure saying how to install them (no silent skip). */
export function requirePrograms(): void {
  const needs: Record<string, string> = { '/usr/sbin/sshd': 'openssh-server', ssh: 'openssh-client', 'ssh-keygen': 'openssh-client', sudo: 'sudo', useradd: 'passwd', script: 'bsdutils' };
  const missing = Object.entries(needs).filter(([program]) => spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0).map(([, pkg]) => pkg);
  if (missing.length > 0) throw new Error(`the first-hour test needs ${[...new Set(missing)].join(', ')}: apt-get install -y ${[...new Set(missing)].join(' ')} (.ci/run does it)`);
  if (process.getuid?.() !== 0) throw new Error('the first-hour test creates a user and runs sshd: run it as root (CI does)');
}

export type DeployUser = { name: string; uid: number; home: string; remove(): void };

/** `useradd` a user with a home and bash, login by key only (a '*' password: not locked, no password). */
export function createDeployUser(name: string): DeployUser {
  execFileSync('useradd', ['--create-home', '--shell', '/bin/bash', name]);
  execFileSync('usermod', ['-p', '*', name]);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const home = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':')[5];
  return {
    name,
    uid,
    home,
    remove() {
      for (const pid of pidsOfUser(uid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      spawnSync('userdel', ['--remove', '--force', name]);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Pids of every process running as `uid` (all started by this test: the user is the test's own). */
function pidsOfUser(uid: number): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    try {
      return new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/**
 * The project as the deploy user would have it after `git clone` and `npm ci --omit=dev`: the sources
 * (node_modules linked, not copied), then the bundle built by that user, as npm ci's `prepare` does,
 * so ./deploy.ts runs dist/ as it does on a real host (a copied dist/ would be older than the copied
 * folders, whose mtimes a copy does not keep, and every command would run the TypeScript instead).
 */
export function installSwitchyardFor(user: DeployUser): string {
  const target = path.join(user.home, 'switchyard');
  mkdirSync(target);
  for (const entry of ['deploy.ts', 'lib', 'scripts', 'templates', 'tools', 'package.json', 'package-lock.json', 'tsconfig.json', '.env.example']) {
    if (existsSync(path.join(PROJECT, entry))) cpSync(path.join(PROJECT, entry), path.join(target, entry), { recursive: true });
  }
  symlinkSync(path.join(PROJECT, 'node_modules'), path.join(target, 'node_modules'));
  execFileSync('chown', ['-hR', `${user.uid}`, target]);
  execFileSync('runuser', ['-u', user.name, '--', process.execPath, path.join(target, 'tools', 'bundle.mjs')], { cwd: target, stdio: 'pipe' });
  return target;
}

export type TestSshd = {
  port: number;
  /** argv of `ssh` for `user` with the client key; add `-tt` for a TTY. */
  ssh(user: string, options?: { tty?: boolean }): string[];
  stop(): Promise<void>;
};

/** A key pair for the client, its public half authorized for `user` with `comment`. */
export function authorizeKey(dir: string, user: DeployUser, comment: string): string {
  const key = path.join(dir, 'client_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', key]);
  const sshDir = path.join(user.home, '.ssh');
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(sshDir, 'authorized_keys'), readFileSync(`${key}.pub`), { mode: 0o600 });
  chownSync(sshDir, user.uid, user.uid);
  chownSync(path.join(sshDir, 'authorized_keys'), user.uid, user.uid);
  return key;
}

/**
 * A real sshd on a free loopback port for `allowUser`. `rootKeys`: root may log in with the keys in that
 * file (a test's own file, so root's ~/.ssh is never touched), for the fleet controller run over SSH.
 */
export async function startSshd(dir: string, allowUser: string, clientKey: string, options: { rootKeys?: string } = {}): Promise<TestSshd> {
  mkdirSync(dir, { recursive: true });
  // sshd's privilege separation folder (Debian's package makes it at boot, a container may not have it).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  chmodSync('/run/sshd', 0o755);
  const hostKey = path.join(dir, 'host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${path.join(dir, 'sshd.pid')}`,
    'AuthorizedKeysFile .ssh/authorized_keys', 'PubkeyAuthentication yes', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'UsePAM no', ...(options.rootKeys ? ['PermitRootLogin prohibit-password', 'StrictModes no'] : ['PermitRootLogin no', 'StrictModes yes']),
    `AllowUsers ${allowUser}`, 'ExposeAuthInfo yes', 'LogLevel VERBOSE',
    // A Match block runs to the end of the file: it comes last.
    ...(options.rootKeys ? ['Match User root', `  AuthorizedKeysFile ${options.rootKeys}`] : []),
    '',
  ].join('\n'));
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk) => (log += chunk));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await reachable(port)) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start on 127.0.0.1:${port}: ${log.trim()}`);
    await sleep(50);
  }
  return {
    port,
    ssh: (user, options = {}) => [
      'ssh', ...(options.tty ? ['-tt'] : ['-T']), '-i', clientKey, '-p', String(port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `${user}@127.0.0.1`,
    ],
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      for (let waited = 0; child.exitCode === null && waited < 5000; waited += 50) await sleep(50);
    },
  };
}

