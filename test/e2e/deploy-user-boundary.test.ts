import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { nginxBinary, startNginx, type TestNginx } from '../../harness/nginx.ts';
import { installHelper } from '../../harness/nginx-helper.ts';
import { freePorts } from '../../harness/ports.ts';
import { createDeployUser, installSwitchyardFor, type DeployUser } from '../../harness/sshd.ts';
import { readNginxFiles } from '../../lib/setup/doctor/nginx-files.ts';

/**
 * The audit's nginx case with a real deploy user and a second user, nginx run as root: in the
 * default mode (nginx-live-file) the upstream is installed once by root through the helper, a
 * deploy needs no sudo at all, and nothing the deploy user can do (append to, replace, or move
 * away any file nginx parses or a folder above it; run what sudo allows) makes the root nginx
 * write a file of its choosing.
 */
describe('the deploy user stays a deploy user (real users, root nginx)', () => {
  const tag = randomBytes(3).toString('hex');
  let dir: string;
  let user: DeployUser;
  let other: DeployUser;
  let nginx: TestNginx;
  let helper: string;
  let upstreamFile: string;
  let deployRoot: string;
  let switchyard: string;
  let example: ReturnType<typeof createExampleRepo>;
  let ports: { a: number; b: number; listen: number };
  const sudoersFile = `/etc/sudoers.d/sysec-${tag}`;
  const nginxDir = () => path.join(dir, 'nginx');
  const nginxArgs = () => ['-p', nginxDir(), '-c', path.join(nginxDir(), 'nginx.conf')];

  /** `./deploy.ts ARGS` as the deploy user, from its checkout, with a plain environment. */
  const asDeployUser = (args: string[], env: Record<string, string> = {}) =>
    execa('runuser', ['-u', user.name, '--', 'env', '-i', `HOME=${user.home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', 'NO_COLOR=1', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), path.join(switchyard, 'deploy.ts'), ...args], {
      cwd: switchyard,
      reject: false,
      all: true,
      timeout: 180_000,
    });
  const shellAs = (who: DeployUser, script: string) => execa('runuser', ['-u', who.name, '--', 'sh', '-c', script], { reject: false, all: true, timeout: 60_000 });
  const writeEnv = (extra: Record<string, string> = {}) => {
    const values: Record<string, string> = {
      APP_NAME: 'exampleapp', REPO: example.repo, DEPLOY_ROOT: deployRoot, PORT_A: String(ports.a), PORT_B: String(ports.b),
      SWITCH: 'nginx-live-file', NGINX_LISTEN: `127.0.0.1:${ports.listen}`, NGINX_UPSTREAM_FILE: upstreamFile, NGINX_LIVE_DIR: path.join(deployRoot, 'nginx'),
      NGINX_PID_FILE: path.join(nginxDir(), 'nginx.pid'), INSTALL_CMD: 'npm ci --no-audit --no-fund --loglevel=error', BUILD_CMD: 'node build.js', START_CMD: 'node server.js',
      HEALTH_TIMEOUT: '30s', STOP_TIMEOUT: '15s', BAKE_TIME: '0', ...extra,
    };
    const file = path.join(switchyard, '.env');
    writeFileSync(file, Object.entries(values).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join('\n') + '\n');
    chownSync(file, user.uid, user.uid);
  };
  const hashes = (files: string[]) => files.map((file) => `${file} ${existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : '-'}`);
  const rootReload = () => execFileSync(nginxBinary(), [...nginxArgs(), '-s', 'reload']);

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test creates users and runs nginx as root: run it as root (CI does)');
    dir = mkdtempSync(path.join(os.tmpdir(), 'security-boundary-'));
    chmodSync(dir, 0o755);
    user = createDeployUser(`sysec${tag}d`);
    other = createDeployUser(`sysec${tag}o`);
    switchyard = installSwitchyardFor(user);
    example = createExampleRepo(path.join(dir, 'repo'));
    execFileSync('runuser', ['-u', user.name, '--', 'git', 'config', '--global', '--add', 'safe.directory', `${example.repo}/.git`]);
    const [a, b, listen] = await freePorts(3);
    ports = { a, b, listen };
    deployRoot = path.join(dir, 'srv', 'app');
    execFileSync('install', ['-d', '-m', '711', '-o', user.name, deployRoot]);
    // Root, once: the helper and the root folder it writes the upstream in.
    ({ helper, upstreamDir: upstreamFile } = installHelper(path.join(dir, 'sbin'), { nginx: nginxBinary(), nginxArgs: nginxArgs().join(' ') }));
    upstreamFile = path.join(upstreamFile, 'exampleapp.conf');
    writeEnv();
    const site = await asDeployUser(['nginx-site']);
    expect(site.exitCode, site.all).toBe(0);
    // Root installs the site and the upstream (the helper's nginx -t needs a configuration that includes them).
    mkdirSync(nginxDir(), { recursive: true });
    writeFileSync(path.join(nginxDir(), 'site.conf'), site.stdout);
    writeFileSync(path.join(nginxDir(), 'nginx.conf'), `pid ${nginxDir()}/nginx.pid;\nerror_log ${nginxDir()}/error.log;\nevents {}\nhttp { include ${nginxDir()}/site.conf; }\n`);
    const installed = await execa(helper, ['write', 'exampleapp', 'per-slot', `127.0.0.1:${a}`, `127.0.0.1:${b}`], { reject: false, all: true });
    expect(installed.all).toMatch(/changed/);
    nginx = await startNginx(nginxDir(), { site: site.stdout, port: listen });
  }, 240_000);

  afterAll(async () => {
    rmSync(sudoersFile, { force: true });
    if (user) {
      for (const slot of ['a', 'b']) await asDeployUser(['stop', `exampleapp-${slot}`, '--force']).catch(() => undefined);
      user.remove();
    }
    other?.remove();
    await nginx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('a deploy by the deploy user in the default mode with no sudo rule at all succeeds, twice, without nginx -t or a reload', async () => {
    expect((await shellAs(user, 'sudo -n -l')).exitCode).not.toBe(0);
    const upstream = await asDeployUser(['upstream']);
    expect(`${upstream.stdout}\n`).toBe(readFileSync(upstreamFile, 'utf8'));
    for (const version of ['v1', 'v2']) {
      if (version === 'v2') example.commit('v2');
      const deployed = await asDeployUser(['deploy']);
      expect(deployed.exitCode, deployed.all).toBe(0);
      expect(deployed.all).toContain('no reload');
      expect(deployed.all).not.toMatch(/sudo/);
      const answer = await fetch(`http://127.0.0.1:${ports.listen}/`, { headers: { connection: 'close' } }).then((response) => response.json());
      expect(answer.version).toBe(version);
    }
    const doctor = await asDeployUser(['doctor']);
    expect(doctor.stdout).toMatch(/^✔ nginx rights +sysec\w+ can change none of the \d+ files nginx parses/m);
    expect(doctor.stdout).toMatch(/^✔ sudo +no sudo needed/m);
  }, 360_000);

  it("the audit's trick fails: append to, replace, or move away each file nginx parses or a folder above it, then reload", async () => {
    const files = readNginxFiles(path.join(nginxDir(), 'nginx.pid'))!.files;
    expect(files).toEqual(expect.arrayContaining([path.join(nginxDir(), 'nginx.conf'), path.join(nginxDir(), 'site.conf'), upstreamFile]));
    const before = hashes(files);
    const target = path.join(dir, `pwned-${tag}`);
    const payload = `log_format sysec '${user.name} ALL=(ALL) NOPASSWD: ALL';\nserver { listen 127.0.0.1:1; access_log ${target} sysec; }\n`;
    const attempts: string[] = [];
    for (const who of [user, other]) {
      for (const file of files) {
        const folders: string[] = [];
        for (let folder = path.dirname(file); folder !== '/'; folder = path.dirname(folder)) folders.push(folder);
        const tries = [
          `printf %s '${payload.replace(/'/g, "'\\''")}' >> ${file}`,
          `cp ${file} ${file}.new && printf %s 'x' >> ${file}.new && mv -f ${file}.new ${file}`,
          `ln -sf /dev/null ${file}`,
          ...folders.map((folder) => `mv ${folder} ${folder}.away && mkdir ${folder}`),
        ];
        for (const attempt of tries) {
          const result = await shellAs(who, attempt);
          if (result.exitCode === 0) attempts.push(`${who.name}: ${attempt}`);
        }
      }
      // ... then every command sudo allows it: none.
      for (const command of [[nginxBinary(), ...nginxArgs(), '-t'], [nginxBinary(), ...nginxArgs(), '-s', 'reload'], [helper, 'reload', 'exampleapp']]) {
        const result = await execa('runuser', ['-u', who.name, '--', 'sudo', '-n', ...command], { reject: false });
        if (result.exitCode === 0) attempts.push(`${who.name}: sudo ${command.join(' ')}`);
      }
    }
    expect(attempts).toEqual([]);
    rootReload(); // as logrotate or a package upgrade would
    expect(hashes(files)).toEqual(before);
    expect(existsSync(target)).toBe(false);
  }, 240_000);

  it('with only the helper in sudoers: new ports go through it, and it takes no configuration text, file or nginx argument', async () => {
    writeFileSync(sudoersFile, `${user.name} ALL=(root) NOPASSWD: ${helper}\n`, { mode: 0o440 });
    execFileSync('visudo', ['-cf', sudoersFile]);
    // Root wrote the upstream itself, so root names its owner: through sudo only that uid may change it.
    writeFileSync(path.join(path.dirname(upstreamFile), 'exampleapp.owner'), `${user.uid}\n`);
    const [newB] = await freePorts(1);
    writeEnv({ PORT_B: String(newB), NGINX_HELPER: `sudo -n ${helper}` });
    const before = readFileSync(upstreamFile, 'utf8');
    const target = path.join(dir, `pwned-helper-${tag}`);
    for (const args of [
      ['install', 'exampleapp', 'per-slot', `127.0.0.1:${ports.a};}server{listen 127.0.0.1:1;access_log ${target};}upstream x{server 127.0.0.1:1`, `127.0.0.1:${newB}`],
      ['install', '../../../tmp/x', 'per-slot', `127.0.0.1:${ports.a}`, `127.0.0.1:${newB}`],
      ['reload', 'exampleapp', '-c', '/tmp/evil.conf'],
    ]) {
      const refused = await execa('runuser', ['-u', user.name, '--', 'sudo', '-n', helper, ...args], { reject: false, all: true });
      expect(refused.exitCode, refused.all).toBe(2);
    }
    const raw = await execa('runuser', ['-u', user.name, '--', 'sudo', '-n', nginxBinary(), '-c', '/tmp/evil.conf', '-t'], { reject: false });
    expect(raw.exitCode).not.toBe(0);
    expect(readFileSync(upstreamFile, 'utf8')).toBe(before);
    const doctor = await asDeployUser(['doctor']);
    expect(doctor.stdout).toMatch(/^✔ nginx rights/m);
    expect(doctor.stdout).toMatch(/^✔ sudo +NGINX_HELPER may run without a password/m);
    example.commit('v3');
    const deployed = await asDeployUser(['deploy']);
    expect(deployed.exitCode, deployed.all).toBe(0);
    expect(readFileSync(upstreamFile, 'utf8')).toContain(`127.0.0.1:${newB}`);
    expect(deployed.all).toMatch(/upstream installed by NGINX_HELPER/);
    expect(existsSync(target)).toBe(false);
  }, 360_000);

  it('doctor fails, with the fix, when the deploy user can write a file nginx parses or run nginx with its own arguments', async () => {
    chownSync(upstreamFile, user.uid, user.uid);
    try {
      const writable = await asDeployUser(['doctor']);
      expect(writable.exitCode).toBe(1);
      expect(writable.stdout).toMatch(new RegExp(`^✖ nginx rights +${user.name} can write ${upstreamFile.replace(/[.]/g, '\\.')}.*\\n +fix: as root, make every file nginx includes`, 'm'));
    } finally {
      chownSync(upstreamFile, 0, 0);
    }
    writeFileSync(sudoersFile, `${user.name} ALL=(root) NOPASSWD: ${nginxBinary()}\n`, { mode: 0o440 });
    const sudo = await asDeployUser(['doctor']);
    expect(sudo.exitCode).toBe(1);
    expect(sudo.stdout).toMatch(new RegExp(`^✖ nginx rights +${user.name}: sudo lets it run ${nginxBinary()} with arguments of its choosing.*\\n +fix: replace the sudoers rule`, 'm'));
  }, 240_000);
});
