import { execa, type ResultPromise } from 'execa';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { installHelper } from '../../harness/nginx-helper.ts';
import { freePorts } from '../../harness/ports.ts';
import { startSitesNginx } from '../../harness/sites-nginx.ts';
import { authorizeKey, createDeployUser, installSwitchyardFor, requirePrograms, startSshd, type DeployUser, type TestSshd } from '../../harness/sshd.ts';
import { waitFor } from '../../harness/wait.ts';

/**
 * The README's "Set up a host" on this machine, over a real sshd: a deploy user made with useradd,
 * DEPLOY_ROOT made by root for it, `init` (whose printed steps the operator then runs as root),
 * `doctor` (a ✖ fixed by its own printed fix), then deploys over `ssh` without and with a TTY,
 * each with the SSH client killed half-way: the deploy runs to its end and a reconnecting
 * operator sees how it ended (`logs --deploy -f`, `history --show last`).
 */

const KEY_COMMENT = 'ana@laptop';
const sh = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

describe('the first hour on a host, over SSH (real sshd, user, sudo, nginx, git)', () => {
  let dir: string;
  let user: DeployUser;
  let sshd: TestSshd;
  let nginx: Awaited<ReturnType<typeof startSitesNginx>>;
  let example: ReturnType<typeof createExampleRepo>;
  let deployRoot: string;
  let listen: number;
  let ports: { a: number; b: number };
  let sudoersFile: string;

  /** A command run by the deploy user's shell over ssh, from its home, as the README shows. */
  const remote = (command: string, options: { tty?: boolean; stdin?: 'pipe' } = {}) =>
    execa(sshd.ssh(user.name, options)[0], [...sshd.ssh(user.name, options).slice(1), `cd switchyard && ${command}`], { reject: false, all: true, timeout: 180_000, stdin: options.stdin ?? 'ignore' });

  beforeAll(async () => {
    requirePrograms();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-first-hour-'));
    chmodSync(dir, 0o755);
    user = createDeployUser(`swy${process.pid % 100000}`);
    sudoersFile = `/etc/sudoers.d/switchyard-test-${user.name}`;
    installSwitchyardFor(user);
    example = createExampleRepo(path.join(dir, 'repo'));
    nginx = await startSitesNginx(path.join(dir, 'web'));
    const key = authorizeKey(dir, user, KEY_COMMENT);
    sshd = await startSshd(path.join(dir, 'sshd'), user.name, key);
    const [a, b, l] = await freePorts(3);
    ports = { a, b };
    listen = l;
    // As root, once: DEPLOY_ROOT for the deploy user (README step 2).
    deployRoot = path.join(dir, 'srv', 'hour');
    execFileSync('install', ['-d', '-m', '711', '-o', user.name, deployRoot]);
  }, 120_000);

  afterAll(async () => {
    if (user) {
      for (const slot of ['a', 'b']) await execa('runuser', ['-u', user.name, '--', path.join(user.home, 'switchyard', 'deploy.ts'), 'stop', `hour-${slot}`, '--force'], { reject: false, timeout: 60_000 });
      user.remove();
    }
    await sshd?.stop();
    await nginx?.stop();
    if (sudoersFile) rmSync(sudoersFile, { force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('without a .env every command says so and how to make one', async () => {
    const result = await remote('./deploy.ts status');
    expect(result.exitCode, result.all).toBe(1);
    expect(result.stderr).toBe(`error: no .env at ${user.home}/switchyard/.env (and APP_NAME, REPO, DEPLOY_ROOT not set in the environment); nothing was changed; create it: \`cp ${user.home}/switchyard/.env.example ${user.home}/switchyard/.env\` and edit it, or \`./deploy.ts init --app NAME --repo URL --root DIR\``);
    const typo = await remote('./deploy.ts stauts');
    expect(typo.exitCode).toBe(2);
    expect(typo.stderr).toMatch(/^error: unknown command "stauts" \(did you mean status\?\)/);
  }, 60_000);

  it('init writes the set-up and prints what is left; the operator runs it as printed; doctor finds the one ✖ and its fix works', async () => {
    const nginxCmd = `/usr/sbin/nginx -p ${nginx.prefix} -c ${nginx.confFile}`;
    // The upstream in a root folder, the live-files the deploy user's (docs/security.md): no sudoers rule at all.
    const upstreamDir = path.join(dir, 'etc-switchyard');
    const flags = [
      '--app', 'hour', '--repo', example.repo, '--root', deployRoot, '--listen', `127.0.0.1:${listen}`,
      '--port-a', String(ports.a), '--port-b', String(ports.b), '--install', 'npm ci --no-audit --no-fund --loglevel=error',
      // A build that takes a while, so the SSH client can be killed in the middle of a deploy.
      '--build', 'sleep 4 && npm run build --if-present',
      '--test-cmd', `sudo -n ${nginxCmd} -t -q`, '--reload-cmd', `sudo -n ${nginxCmd} -s reload`, '--pid-file', nginx.pidFile, '--nginx-dir', nginx.etc,
      '--upstream-file', path.join(upstreamDir, 'hour.conf'), '--live-dir', path.join(deployRoot, 'nginx'),
    ];
    const init = await remote(`./deploy.ts init ${flags.map(sh).join(' ')}`);
    expect(init.exitCode, init.all).toBe(0);
    expect(init.stdout).toMatch(/^✔ \.env +created /m);
    expect(init.stdout).toMatch(/^· nginx upstream +skipped +\S+hour\.conf is root's to write/m);
    const step = (prefix: string) => init.stdout.split('\n').find((line) => line.startsWith(`  - ${prefix}`))?.slice(`  - ${prefix}`.length) ?? `(no "${prefix}" step in:\n${init.stdout})`;
    // The operator, as root: the helper (a test copy, its settings pointed at this nginx) and the upstream it renders, as printed.
    const rootStep = step('as root, install the helper and the upstream it renders (docs/security.md): ');
    const { helper } = installHelper(path.join(dir, 'sbin'), { nginx: '/usr/sbin/nginx', nginxArgs: `-p ${nginx.prefix} -c ${nginx.confFile}` });
    execFileSync('mv', [path.join(dir, 'sbin', 'etc-switchyard'), upstreamDir]);
    execFileSync('sed', ['-i', `s|^UPSTREAM_DIR=.*|UPSTREAM_DIR=${upstreamDir}|`, helper]);
    const write = /sudo (\/usr\/local\/sbin\/switchyard-nginx-helper write [^(]*?)(?: \(|$)/.exec(rootStep)?.[1];
    expect(write, rootStep).toBe(`/usr/local/sbin/switchyard-nginx-helper write hour per-slot 127.0.0.1:${ports.a} 127.0.0.1:${ports.b}`);
    execFileSync('sh', ['-c', write!.replace('/usr/local/sbin/switchyard-nginx-helper', helper)]);
    execFileSync('sh', ['-c', step('install the site: ')]);
    expect(init.stdout).not.toContain('sudoers');
    // ... then root tests and reloads nginx once; the deploy user never needs to.
    execFileSync('sh', ['-c', step('then test and reload nginx: ').replace(/ \(or run .*$/, '')]);

    // REPO belongs to root: git refuses it for the deploy user until it is declared safe.
    const first = await remote('./deploy.ts doctor');
    expect(first.exitCode, first.all).toBe(1);
    expect(first.stdout.split('\n').filter((line) => line.startsWith('✖')).map((line) => line.split(/\s+/)[1])).toEqual(['repository']);
    expect(first.stdout).toContain('("dubious ownership")');
    const fix = /fix: as the deploy user: (git config --global --add safe\.directory \S+)/.exec(first.stdout)?.[1];
    expect(fix, first.stdout).toBe(`git config --global --add safe.directory ${example.repo}/.git`);
    expect((await remote(fix!)).exitCode).toBe(0);
    const second = await remote('./deploy.ts doctor');
    expect(second.exitCode, second.all).toBe(0);
    expect(second.stdout).toMatch(/^✔ nginx config +nginx includes .*etc-switchyard\/hour\.conf and follows/m);
    expect(second.stdout).toMatch(/^✔ sudo +no sudo needed/m);
    expect(second.stdout).toMatch(/^✔ nginx rights +/m);
  }, 180_000);

  /** Start a deploy over ssh, kill the ssh client once the build runs, reconnect and follow it to its end. */
  async function deployAndHangUp(tty: boolean): Promise<{ sha: string; beforeKill: string; followed: string }> {
    const sha = example.head();
    const client: ResultPromise = remote(`./deploy.ts deploy ${sha}`, { tty });
    let seen = '';
    client.all?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    // A TTY gets colours: the step mark is wrapped in escape codes.
    await waitFor('the install step to finish (the build sleeps 4 s)', () => /(ok|✓) +install /.test(seen.replace(/\x1b\[[0-9;]*m/g, '')), { output: () => seen });
    client.kill('SIGKILL');
    await client;
    expect(seen).not.toMatch(/deployed /);
    // Reconnect: follow the deploy that runs now until it ends.
    const follow = await remote('./deploy.ts logs --deploy -f');
    expect(follow.exitCode, follow.all).toBe(0);
    return { sha, beforeKill: seen, followed: follow.stdout };
  }

  it('a deploy over ssh without a TTY runs to its end after the client is killed; the reconnecting operator sees how it ended', async () => {
    const { sha, followed } = await deployAndHangUp(false);
    expect(followed).toMatch(new RegExp(`^# switchyard deploy ${sha} by ${KEY_COMMENT} at `, 'm'));
    expect(followed).toMatch(new RegExp(`^✔ deployed ${sha.slice(0, 7)} on slot a \\(port ${ports.a}\\)`, 'm'));
    const shown = await remote('./deploy.ts history --show last');
    expect(shown.stdout).toBe(followed);
    const history = JSON.parse((await remote('./deploy.ts history --json')).stdout);
    expect(history.at(-1)).toMatchObject({ command: 'deploy', commit: sha, outcome: 'success', user: KEY_COMMENT, requested: sha });
    expect((await remote(`./deploy.ts history --show ${history.at(-1).log}`)).stdout).toBe(followed);
    const page = await fetch(`http://127.0.0.1:${listen}/`).then((response) => response.json());
    expect(page).toMatchObject({ version: 'v1', slot: 'a' });
    const doctor = await remote('./deploy.ts doctor');
    expect(doctor.exitCode, doctor.all).toBe(0);
    expect(doctor.stdout).toMatch(new RegExp(`^✔ traffic .*→ slot a \\(127\\.0\\.0\\.1:${ports.a}\\)`, 'm'));
  }, 180_000);

  it('with ssh -tt the same: the hang-up (SIGHUP) does not abort it, it runs to its end', async () => {
    example.commit('v2');
    const { sha, beforeKill, followed } = await deployAndHangUp(true);
    expect(beforeKill).toMatch(/lock/);
    expect(followed).toMatch(new RegExp(`^✔ deployed ${sha.slice(0, 7)} on slot b \\(port ${ports.b}\\)`, 'm'));
    expect(followed).not.toMatch(/interrupted|SIGHUP/);
    // The bake window's watcher appends its own lines (bake-watch: ...) to the deploy's log as it goes (docs/long-lived.md).
    const ownLines = (text: string) => text.split('\n').filter((line) => !line.startsWith('bake-watch: ')).join('\n');
    expect(ownLines((await remote('./deploy.ts history --show last')).stdout)).toBe(ownLines(followed));
    const page = await fetch(`http://127.0.0.1:${listen}/`).then((response) => response.json());
    expect(page).toMatchObject({ version: 'v2', slot: 'b' });
    const status = await remote('./deploy.ts status');
    expect(status.stdout).toMatch(new RegExp(`^last: deploy ${sha.slice(0, 7)} to slot b by ${KEY_COMMENT} at .*: success`, 'm'));
  }, 180_000);

  it('Ctrl-C typed into ssh -tt (SIGINT from the remote TTY) still aborts before the switch: exit 130, the live slot serves on', async () => {
    example.commit('v3');
    const client = remote('./deploy.ts deploy', { tty: true, stdin: 'pipe' });
    let seen = '';
    client.all?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await waitFor('the install step to finish', () => /(ok|✓) +install /.test(seen.replace(/\x1b\[[0-9;]*m/g, '')), { output: () => seen });
    client.stdin?.write('\x03');
    const result = await client;
    expect(result.exitCode, result.all).toBe(130);
    expect(result.all).toMatch(/deploy interrupted by SIGINT: stopped what it had started; slot b \([0-9a-f]{7}\) is still live and serving; the lock was released/);
    const shown = await remote('./deploy.ts history --show last');
    expect(shown.stdout).toMatch(/^error: deploy interrupted by SIGINT/m);
    expect((await fetch(`http://127.0.0.1:${listen}/`).then((response) => response.json())).version).toBe('v2');
  }, 120_000);

  it('a deploy of a name that does not exist: status words it, history keeps what was asked', async () => {
    const typo = await remote('./deploy.ts deploy typo-branch');
    expect(typo.exitCode).toBe(1);
    const status = await remote('./deploy.ts status');
    expect(status.stdout).toMatch(new RegExp(`^last: deploy of "typo-branch" failed before touching a slot \\(by ${KEY_COMMENT} at [^)]*\\): commit "typo-branch" does not exist in the repository`, 'm'));
    const dryRun = await remote('./deploy.ts deploy --dry-run v-nothing');
    expect(dryRun.stdout).toMatch(/^dry run: deploy v-nothing to slot a /m);
    expect(dryRun.stdout).toMatch(/resolve v-nothing/);
  }, 120_000);
});
