import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installHelper } from '../../harness/nginx-helper.ts';
import { nginxBinary, nginxLayout, startNginx, type TestNginx } from '../../harness/nginx.ts';
import { freePorts } from '../../harness/ports.ts';
import { createDeployUser, type DeployUser } from '../../harness/sshd.ts';
import { readPidFile } from '../../lib/host/process.ts';
import { templateFile } from '../../lib/project-dir.ts';
import { helperInstallArgv } from '../../lib/traffic/nginx-helper.ts';
import { childPids } from '../../lib/host/proc.ts';
import { renderUpstream, type UpstreamLayout } from '../../lib/traffic/upstream.ts';

/**
 * Issue 32 item 1, as the audit did it: a real unprivileged deploy user runs the helper through real
 * sudo under the rule of templates/nginx/sudoers, against a root nginx, from a folder of its own with
 * crafted file names, with its own environment. Every word that is not exactly an address, slot, app
 * or commit is refused (exit 2) before anything is written, tested or reloaded.
 */
describe('switchyard-nginx-helper against a hostile deploy user (real sudo, root nginx)', () => {
  const tag = randomBytes(3).toString('hex');
  const sudoersFile = `/etc/sudoers.d/helper-hostile-${tag}`;
  let dir: string;
  let user: DeployUser;
  let other: DeployUser;
  let nginx: TestNginx;
  let helper: string;
  let upstreamDir: string;
  let cwd: string;
  let socketDir: string;
  let target: string;
  let ports: { a: number; b: number; listen: number };
  const layout = (a: number, b: number): UpstreamLayout => ({ kind: 'per-slot', appName: 'hostile', host: '127.0.0.1', slots: { a: [{ kind: 'port', port: a, index: 0 }], b: [{ kind: 'port', port: b, index: 0 }] }, streams: { a: [{ kind: 'port', port: a, index: 0 }], b: [{ kind: 'port', port: b, index: 0 }] } });

  /** `sudo -n HELPER ARGS` as `who`, from `cwd`, with a plain environment plus `env`. */
  const sudoHelper = (who: DeployUser, args: string[], env: Record<string, string> = {}) =>
    execa('runuser', ['-u', who.name, '--', 'env', '-i', `HOME=${who.home}`, 'PATH=/usr/bin:/bin', ...Object.entries(env).map(([key, value]) => `${key}=${value}`), 'sudo', '-n', helper, ...args], { cwd, reject: false, all: true, timeout: 60_000 });
  /** Every file under `folder` with its content's hash (a folder as `/`): what "nothing was written" compares. */
  const snapshot = (folder: string): string[] =>
    readdirSync(folder, { recursive: true, encoding: 'utf8' })
      .map((entry) => path.join(folder, entry))
      .filter((file) => !file.endsWith('error.log'))
      .map((file) => (statSync(file).isDirectory() ? `${file}/` : `${file} ${createHash('sha256').update(readFileSync(file)).digest('hex')}`))
      .sort();
  const workers = () => childPids(readPidFile(nginx.pidFile)!).sort();

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test creates users, a sudoers rule and a root nginx: run it as root (CI does)');
    dir = mkdtempSync(path.join(os.tmpdir(), 'helper-hostile-'));
    chmodSync(dir, 0o755);
    user = createDeployUser(`hh${tag}d`);
    other = createDeployUser(`hh${tag}o`);
    const [a, b, listen] = await freePorts(3);
    ports = { a, b, listen };
    const prefix = path.join(dir, 'nginx');
    mkdirSync(prefix);
    socketDir = path.join(dir, 'srv', 'hostile', 'sockets');
    mkdirSync(socketDir, { recursive: true });
    for (const name of ['a1.sock', 'b1.sock']) writeFileSync(path.join(socketDir, name), '');
    ({ helper, upstreamDir } = installHelper(path.join(dir, 'sbin'), { nginx: nginxBinary(), nginxArgs: `-p ${prefix} -c ${nginxLayout(prefix).confFile}`, socketDirs: `${path.join(dir, 'srv')}/*/sockets` }));
    // Root, once: the upstream, its owner (the deploy user), the site, nginx, and the sudoers rule of the template.
    writeFileSync(path.join(upstreamDir, 'hostile.conf'), renderUpstream(layout(a, b)));
    writeFileSync(path.join(upstreamDir, 'hostile.owner'), `${user.uid}\n`);
    nginx = await startNginx(prefix, { port: listen, site: `include ${path.join(upstreamDir, 'hostile.conf')};\nserver {\n    listen 127.0.0.1:${listen};\n    location / { proxy_pass http://switchyard_hostile; }\n}\n` });
    const rule = readFileSync(templateFile('nginx', 'sudoers'), 'utf8').split('\n').filter((line) => line.startsWith('deploy '));
    expect(rule).toHaveLength(1);
    writeFileSync(sudoersFile, [user, other].map((who) => `${rule[0].replace(/^deploy /, `${who.name} `).replace('/usr/local/sbin/switchyard-nginx-helper', helper)}\n`).join(''), { mode: 0o440 });
    execFileSync('visudo', ['-cf', sudoersFile]);
    // The deploy user's own folder, where it runs the helper from: names a shell would expand a word into.
    cwd = path.join(dir, 'cwd');
    target = path.join(dir, 'pwned');
    const payload = `localhost:${a} max_fails=0;} log_format p '${user.name} ALL=(ALL) NOPASSWD: ALL'; server { listen 127.0.0.1:1; access_log `;
    const tree = path.join(cwd, payload, ...path.dirname(target).split('/').filter(Boolean));
    mkdirSync(tree, { recursive: true });
    writeFileSync(path.join(tree, `${path.basename(target)} p; } upstream q { server 127.0.0.1:1`), '');
    for (const name of [`127.0.0.1:${a}`, `127.0.0.1:${b}`, 'unix:', '-c', 'localhost:1']) writeFileSync(path.join(cwd, name), '');
    execFileSync('chown', ['-R', user.name, cwd]);
  }, 120_000);

  afterAll(async () => {
    rmSync(sudoersFile, { force: true });
    await nginx?.stop();
    user?.remove();
    other?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('refuses glob words, words the caller\'s folder would expand, spaces and option-looking words: exit 2, nothing written, no reload, no file made by nginx', async () => {
    const { a, b } = ports;
    const good = [`127.0.0.1:${a}`, `127.0.0.1:${b}`];
    const refused: string[][] = [
      // Globs: the old helper expanded these in the caller's folder, once to check and once to render.
      ['install', 'hostile', 'per-slot', '127.0.0.1:[0-9]*', good[1]],
      ['install', 'hostile', 'per-slot', `127.0.0.1:${String(a).slice(0, -1)}?`, good[1]],
      ['install', 'hostile', 'per-slot', '127.0.0.1:*', good[1]],
      ['install', 'hostile', 'per-slot', `localhost:${a}*/*/*/*`, good[1]],
      ['install', 'hostile', 'per-slot', 'unix:/tmp/*', good[1]],
      ['install', 'hostile', 'per-slot', `unix:${socketDir}/*`, good[1]],
      ['install', 'hostile', 'per-slot', `unix:${path.dirname(path.dirname(socketDir))}/*/sockets/a1.sock`, good[1]],
      ['install', 'hostile', 'live', 'a', good[0], '[ab]', good[1]],
      ['install', 'hostile', 'live', 'a', good[0], '-', '*'],
      ['install', 'h*', 'per-slot', ...good],
      // Spaces, separators and empty words: each would be one more word to a shell.
      ['install', 'hostile', 'per-slot', `${good[0]} ${good[1]}`, good[1]],
      ['install', 'hostile', 'per-slot', `${good[0]}\tbackup`, good[1]],
      ['install', 'hostile', 'per-slot', `${good[0]}\n`, good[1]],
      ['install', 'hostile', 'per-slot', `${good[0]},`, good[1]],
      ['install', 'hostile', 'per-slot', `,${good[0]}`, good[1]],
      ['install', 'hostile', 'per-slot', `${good[0]},,${good[1]}`, good[1]],
      ['install', 'hostile', 'per-slot', `${good[0]};}`, good[1]],
      // Option-looking words and relative or stepped paths.
      ['install', '-rf', 'per-slot', ...good],
      ['install', '--', 'per-slot', ...good],
      ['-c', 'hostile', 'per-slot', ...good],
      ['install', 'hostile', '-c', ...good],
      ['install', 'hostile', 'per-slot', '-c', good[1]],
      ['install', 'hostile', 'live', '-a', good[0], '-', '-'],
      ['install', 'hostile', 'live', 'a', good[0], '-', '-', '--end-of-options'],
      ['install', 'hostile', 'per-slot', 'unix:relative/a1.sock', good[1]],
      ['install', 'hostile', 'per-slot', `unix:${socketDir}/../sockets/a1.sock`, good[1]],
      ['install', 'hostile', 'per-slot', `unix:${socketDir}/./a1.sock`, good[1]],
      ['install', 'hostile', 'per-slot', `unix:${socketDir}//a1.sock`, good[1]],
      // Addresses nginx would read otherwise than they look: a host name, octal-looking or short IPv4.
      ['install', 'hostile', 'per-slot', `example.com:${a}`, good[1]],
      ['install', 'hostile', 'per-slot', `127.0.0.01:${a}`, good[1]],
      ['install', 'hostile', 'per-slot', `127.1:${a}`, good[1]],
      ['install', 'hostile', 'per-slot', `127.0.0.1:0${a}`, good[1]],
    ];
    const upstreamBefore = snapshot(upstreamDir);
    const nginxBefore = snapshot(nginx.prefix);
    const workersBefore = workers();
    for (const args of refused) {
      const result = await sudoHelper(user, args);
      expect(result.exitCode, `${JSON.stringify(args)}: ${result.all}\nthe upstream now:\n${readFileSync(path.join(upstreamDir, 'hostile.conf'), 'utf8').split('\n').slice(3, 6).join('\n')}`).toBe(2);
      expect(result.stderr).toMatch(/^switchyard-nginx-helper: /);
    }
    expect(snapshot(upstreamDir)).toEqual(upstreamBefore);
    expect(snapshot(nginx.prefix)).toEqual(nginxBefore);
    expect(workers()).toEqual(workersBefore);
    expect(existsSync(target)).toBe(false);
  }, 180_000);

  it("the caller's environment changes nothing: IFS, locale, PATH, CDPATH, SUDO_UID and the helper's own guard are not its to set", async () => {
    // Tools of the caller's, first on its PATH: running any of them would leave a mark.
    const mark = path.join(dir, 'ran');
    const bin = path.join(cwd, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['nginx', 'sed', 'tr', 'cat', 'cut', 'stat', 'id', 'env', 'sh']) writeFileSync(path.join(bin, tool), `#!/bin/sh\ntouch ${mark}\n`, { mode: 0o755 });
    execFileSync('chown', ['-R', user.name, bin]);
    const env = { IFS: '0123456789.:', LC_ALL: 'tr_TR.UTF-8', LANG: 'tr_TR.UTF-8', PATH: `${bin}:/usr/bin:/bin`, CDPATH: cwd, ENV: path.join(bin, 'sh'), SWITCHYARD_HELPER_CLEAN: '1', SUDO_UID: '0', NGINX: path.join(bin, 'nginx') };
    const [newA] = await freePorts(1);
    // A bad word stays refused...
    const bad = await sudoHelper(user, ['install', 'hostile', 'per-slot', `127.0.0.1:${String(newA).slice(0, -1)}*`, `127.0.0.1:${ports.b}`], env);
    expect(bad.exitCode, bad.all).toBe(2);
    // ... a good one is rendered as Switchyard renders it, by the helper's tools only.
    const argv = helperInstallArgv([], layout(newA, ports.b));
    const good = await sudoHelper(user, argv, env);
    expect(good.exitCode, good.all).toBe(0);
    expect(good.stdout).toBe('changed');
    expect(readFileSync(path.join(upstreamDir, 'hostile.conf'), 'utf8')).toBe(renderUpstream(layout(newA, ports.b)));
    expect(existsSync(mark)).toBe(false);
    // SUDO_UID=0 in the caller's environment does not make another user root: sudo sets it.
    const stolen = await sudoHelper(other, argv, env);
    expect(stolen.exitCode, stolen.all).toBe(2);
    expect(stolen.stderr).toContain(`app hostile belongs to uid ${user.uid}, not to uid ${other.uid}`);
    ports.a = newA;
  }, 120_000);

  it("one deploy user cannot change another's app, claim an app root set up, or name a socket outside SOCKET_DIRS", async () => {
    const good = [`127.0.0.1:${ports.a}`, `127.0.0.1:${ports.b}`];
    const owned = snapshot(upstreamDir);
    for (const args of [['install', 'hostile', 'per-slot', ...good], ['write', 'hostile', 'per-slot', ...good], ['reload', 'hostile'], ['restore', 'hostile']]) {
      const result = await sudoHelper(other, args);
      expect(result.exitCode, `${args.join(' ')}: ${result.all}`).toBe(2);
      expect(result.stderr).toContain(`app hostile belongs to uid ${user.uid}`);
    }
    // An app root wrote without an owner: nobody claims it through sudo.
    writeFileSync(path.join(upstreamDir, 'rootapp.conf'), renderUpstream({ ...layout(ports.a, ports.b), appName: 'rootapp' }));
    const claimed = await sudoHelper(other, ['install', 'rootapp', 'per-slot', ...good]);
    expect(claimed.exitCode, claimed.all).toBe(2);
    expect(claimed.stderr).toContain('app rootapp has no owner file');
    expect(existsSync(path.join(upstreamDir, 'rootapp.owner'))).toBe(false);
    rmSync(path.join(upstreamDir, 'rootapp.conf'));
    expect(snapshot(upstreamDir)).toEqual(owned);
    // A new app is its first writer's: the other user's from now on, and not the deploy user's.
    const fresh = await sudoHelper(other, ['write', 'otherapp', 'per-slot', ...good]);
    expect(fresh.exitCode, fresh.all).toBe(0);
    expect(readFileSync(path.join(upstreamDir, 'otherapp.owner'), 'utf8')).toBe(`${other.uid}\n`);
    const taken = await sudoHelper(user, ['write', 'otherapp', 'per-slot', `127.0.0.1:${ports.b}`, `127.0.0.1:${ports.a}`]);
    expect(taken.exitCode, taken.all).toBe(2);
    expect(readFileSync(path.join(upstreamDir, 'otherapp.conf'), 'utf8')).toBe(renderUpstream({ ...layout(ports.a, ports.b), appName: 'otherapp' }));
    // Sockets: only in SOCKET_DIRS, and only a socket (not a plain file or a link) where one exists.
    const socket = (file: string) => ['write', 'hostile', 'per-slot', `unix:${file}`, good[1]];
    for (const args of [socket('/var/run/docker.sock'), socket('/run/systemd/private'), socket(path.join(dir, 'srv', 'sockets', 'a1.sock')), socket(path.join(socketDir, 'a1.sock')), socket(path.join(dir, 'srv', 'hostile', 'x', 'sockets', 'a1.sock'))]) {
      const result = await sudoHelper(user, args);
      expect(result.exitCode, `${args.join(' ')}: ${result.all}`).toBe(2);
    }
    const planned = await sudoHelper(user, socket(path.join(socketDir, 'a2.sock')));
    expect(planned.exitCode, planned.all).toBe(0);
    expect(readFileSync(path.join(upstreamDir, 'hostile.conf'), 'utf8')).toContain(`server unix:${path.join(socketDir, 'a2.sock')} max_fails=0;`);
  }, 120_000);
});
