import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, renameSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeDeployRoot } from '../../lib/setup/doctor/deploy-root.ts';
import { satisfiesEngines } from '../../lib/setup/doctor/host.ts';
import { formatOutcomes, runChecks } from '../../lib/setup/doctor/index.ts';
import { dumpCommand, judgeNginxConfig, sudoListArgv } from '../../lib/setup/doctor/nginx.ts';
import { explainGitFailure, lsRemoteArgv } from '../../lib/setup/doctor/repo.ts';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../../harness/host.ts';

describe('doctor checks (pure parts)', () => {
  it('turns NGINX_TEST_CMD into the configuration dump with the same prefix', () => {
    expect(dumpCommand('sudo -n nginx -t')).toBe('sudo -n nginx -T');
    expect(dumpCommand('/usr/sbin/nginx -p /x -c /x/nginx.conf -t -q')).toBe('/usr/sbin/nginx -p /x -c /x/nginx.conf -T -q');
    expect(dumpCommand('/usr/local/bin/check-nginx')).toBeUndefined();
    expect(sudoListArgv('sudo -n systemctl reload nginx')).toEqual(['sudo', '-n', '-l', 'systemctl', 'reload', 'nginx']);
    expect(sudoListArgv('nginx -s reload')).toBeUndefined();
    expect(lsRemoteArgv('/srv/repo.git', 'main')).toEqual(['git', 'ls-remote', '--', '/srv/repo.git', 'refs/heads/main']);
  });

  it('reads what nginx -T printed: the upstream file must be included, and the live-files looked at', () => {
    const dump = '# configuration file /etc/nginx/nginx.conf:\nhttp {}\n# configuration file /srv/app/nginx/upstream.conf:\nupstream x {}\n# configuration file /etc/nginx/sites-enabled/app:\nif (-f /srv/app/nginx/live-a) {}\n';
    expect(judgeNginxConfig(dump, '/srv/app/nginx/upstream.conf', '/srv/app/nginx').ok).toBe(true);
    const missing = judgeNginxConfig(dump, '/srv/other/nginx/upstream.conf', undefined);
    expect(missing).toMatchObject({ ok: false, detail: 'the running configuration does not include /srv/other/nginx/upstream.conf' });
    expect(missing.fix).toContain('./deploy.ts nginx-site');
    expect(judgeNginxConfig(dump.replace('live-a', 'elsewhere'), '/srv/app/nginx/upstream.conf', '/srv/app/nginx').detail).toMatch(/not the nginx-live-file site/);
  });

  it('explains git refusing a repository of another user with the exact safe.directory command', () => {
    const stderr = "fatal: detected dubious ownership in repository at '/srv/repo.git'\nTo add an exception for this directory, call:\n\n\tgit config --global --add safe.directory /srv/repo.git\n";
    expect(explainGitFailure(stderr, '/srv/repo.git')).toMatchObject({ fix: expect.stringMatching(/^as the deploy user: git config --global --add safe\.directory \/srv\/repo\.git /) });
  });

  it('judges DEPLOY_ROOT: missing, another owner, open modes', () => {
    const me = { uid: 1000, name: 'deploy' };
    expect(judgeDeployRoot('/srv/a', undefined, { root: { exists: false } }, me).fix).toBe('./deploy.ts init (or: sudo install -d -m 711 -o deploy /srv/a)');
    expect(judgeDeployRoot('/srv/a', undefined, { root: { exists: true, uid: 0, mode: 0o711, writable: false } }, me).fix).toBe('sudo chown -R deploy /srv/a   (or run Switchyard as root)');
    expect(judgeDeployRoot('/srv/a', undefined, { root: { exists: true, uid: 1000, mode: 0o755, writable: true } }, me).fix).toMatch(/^chmod 711 \/srv\/a/);
    expect(judgeDeployRoot('/srv/a', '/srv/a/nginx', { root: { exists: true, uid: 1000, mode: 0o711, writable: true }, nginx: { exists: true, mode: 0o700 } }, me).fix).toBe('chmod 755 /srv/a/nginx');
    expect(judgeDeployRoot('/srv/a', '/srv/a/nginx', { root: { exists: true, uid: 1000, mode: 0o711, writable: true }, nginx: { exists: true, mode: 0o755 } }, me).ok).toBe(true);
  });

  it('compares the Node version with package.json engines', () => {
    expect(satisfiesEngines('v20.19.0', '>=20.19')).toBe(true);
    expect(satisfiesEngines('v20.18.3', '>=20.19')).toBe(false);
    expect(satisfiesEngines('v22.1.0', '>=20.19')).toBe(true);
    expect(satisfiesEngines('v18.20.0', '>=20.19')).toBe(false);
  });

  it('bounds every check in time, and a check that throws is a ✖ with the reason', async () => {
    const outcomes = await runChecks(
      [
        { title: 'hangs', run: () => new Promise(() => undefined) },
        { title: 'throws', run: () => { throw new Error('boom'); } },
        { title: 'fine', run: () => ({ ok: true, detail: 'ok' }) },
      ],
      {} as never,
      300,
    );
    expect(outcomes.map((outcome) => [outcome.title, outcome.ok])).toEqual([['hangs', false], ['throws', false], ['fine', true]]);
    expect(outcomes[0].detail).toBe('did not finish within 0.3s');
    expect(formatOutcomes(outcomes)).toEqual([
      '✖ hangs   did not finish within 0.3s',
      '          fix: run doctor again; if it persists, check this part by hand',
      '✖ throws  the check itself failed: boom',
      '          fix: fix what it names, then run doctor again',
      '✔ fine    ok',
    ]);
  });
});

describe('./deploy.ts doctor on a real host (real nginx, git, processes)', () => {
  let host: TestHost;
  beforeAll(async () => {
    host = await createDeployedTestHost({ env: APP_WITHOUT_NPM });
  }, 180_000);
  afterAll(async () => {
    await host?.cleanUp();
  }, 60_000);

  const lineOf = (output: string, title: string) => output.split('\n').find((line) => line.slice(2).startsWith(title)) ?? `(no ${title} line in:\n${output})`;

  it('passes every check on a host set up as the README says, and prints one ✔ line each', async () => {
    const result = await host.run(['doctor']);
    expect(result.exitCode, result.output).toBe(0);
    for (const title of ['configuration', 'repository', 'DEPLOY_ROOT', 'nginx config', 'nginx workers', 'sudo', 'nginx rights', 'traffic', 'slot ports', 'hooks', 'disk space', 'node']) {
      expect(lineOf(result.stdout, title)).toMatch(/^✔ /);
    }
    expect(lineOf(result.stdout, 'traffic')).toMatch(new RegExp(`→ slot a \\(127\\.0\\.0\\.1:${host.ports.a}\\)`));
    expect(lineOf(result.stdout, 'slot ports')).toMatch(/slot a's app \(pid \d+\)/);
    const json = JSON.parse((await host.run(['doctor', '--json'])).stdout);
    expect(json.ok).toBe(true);
    expect(json.checks).toHaveLength(12);
  }, 120_000);

  it('a 0700 folder above the live-file: ✖ nginx workers with the chmod o+x that fixes it', async () => {
    const mode = statSync(host.dir).mode & 0o7777;
    chmodSync(host.dir, 0o700);
    try {
      const result = await host.run(['doctor']);
      expect(result.exitCode, result.output).toBe(1);
      expect(lineOf(result.stdout, 'nginx workers')).toBe(`✖ nginx workers  nginx workers run as nobody (uid ${uidOf('nobody')}) and cannot reach ${host.deployRoot}/nginx: ${host.dir} is mode 0700 owned by root`);
      expect(result.stdout).toContain(`fix: chmod o+x ${host.dir}   (search only, no listing)`);
    } finally {
      chmodSync(host.dir, mode);
    }
  }, 120_000);

  it('a port of the idle slot held by another process: ✖ slot ports with the ss command', async () => {
    const server = net.createServer().listen(host.ports.b, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const result = await host.run(['doctor']);
      expect(result.exitCode, result.output).toBe(1);
      expect(lineOf(result.stdout, 'slot ports')).toBe(`✖ slot ports     port ${host.ports.b} (slot b) is held by a process Switchyard did not start`);
      expect(result.stdout).toContain(`fix: find it with ss -ltnp 'sport = :${host.ports.b}' and stop it`);
    } finally {
      server.close();
    }
  }, 120_000);

  it('REPO owned by another user: ✖ repository explains dubious ownership with the safe.directory fix', async () => {
    const nobody = uidOf('nobody');
    execFileSync('chown', ['-R', `${nobody}`, host.example.repo]);
    try {
      const result = await host.run(['doctor'], { HOME: mkdtempSync(path.join(os.tmpdir(), 'switchyard-home-')) });
      expect(result.exitCode, result.output).toBe(1);
      expect(lineOf(result.stdout, 'repository')).toMatch(/^✖ repository +git refuses REPO .*\("dubious ownership"\)/);
      expect(result.stdout).toContain(`fix: as the deploy user: git config --global --add safe.directory ${host.example.repo}`);
    } finally {
      execFileSync('chown', ['-R', '0', host.example.repo]);
    }
  }, 120_000);

  it('NGINX_CHECK_URL answered by a server that is not the Switchyard site (Debian\'s default site): ✖ traffic', async () => {
    const other = http.createServer((request, response) => response.end('Welcome to nginx!')).listen(0, '127.0.0.1');
    await new Promise((resolve) => other.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(other.address() as net.AddressInfo).port}/__switchyard/health`;
      const result = await host.run(['doctor'], { NGINX_CHECK_URL: url });
      expect(result.exitCode, result.output).toBe(1);
      expect(lineOf(result.stdout, 'traffic')).toBe(`✖ traffic        ${url} answered HTTP 200 without an X-Switchyard-Upstream header: another nginx server takes these requests (Debian's sites-enabled/default is default_server on port 80)`);
      expect(result.stdout).toContain('fix: install the site ./deploy.ts nginx-site prints and remove the other server on that port (rm /etc/nginx/sites-enabled/default)');
    } finally {
      other.close();
    }
  }, 60_000);

  it('the env file missing: one ✖ configuration line naming the file and how to make one; nothing else runs', async () => {
    const aside = `${host.envFile}.aside`;
    renameSync(host.envFile, aside);
    try {
      const result = await host.run(['doctor']);
      expect(result.exitCode, result.output).toBe(1);
      expect(result.stdout.split('\n').filter((line) => /^[✔✖]/.test(line))).toEqual([`✖ configuration  config file ${host.envFile} does not exist; the other checks need it and were not run`]);
      expect(result.stdout).toMatch(/fix: .*\.env\.example/);
    } finally {
      renameSync(aside, host.envFile);
    }
  }, 60_000);
});

function uidOf(name: string): number {
  return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
}

