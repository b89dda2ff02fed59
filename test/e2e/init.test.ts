import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { initValues, mergeAnswers, missingKeys, operatorSteps, planFile, renderEnvFile, siteInstallPaths, sudoersLine, type HostFacts } from '../../lib/setup/init.ts';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { freePorts } from '../../harness/ports.ts';
import { startSitesNginx } from '../../harness/sites-nginx.ts';
import type { TestNginx } from '../../harness/nginx.ts';
import { snapshotTree } from '../support/field-support.ts';
import { stampedSite } from '../../lib/setup/site-file.ts';
import { waitFor } from '../../harness/wait.ts';
import { childPids } from '../../lib/host/proc.ts';

const debian: HostFacts = { user: 'deploy', isRoot: false, systemd: true, nginxBinary: '/usr/sbin/nginx', systemctl: '/usr/bin/systemctl' };

describe('init planning (pure)', () => {
  it('picks nginx commands for the host: sudo unless root, systemctl under systemd, nginx -s reload without it', () => {
    expect(initValues({}, debian)).toMatchObject({ NGINX_TEST_CMD: 'sudo -n /usr/sbin/nginx -t', NGINX_RELOAD_CMD: 'sudo -n /usr/bin/systemctl reload nginx' });
    expect(initValues({}, { ...debian, systemd: false })).toMatchObject({ NGINX_RELOAD_CMD: 'sudo -n /usr/sbin/nginx -s reload' });
    expect(initValues({}, { ...debian, isRoot: true, systemd: false })).toMatchObject({ NGINX_TEST_CMD: '/usr/sbin/nginx -t', NGINX_RELOAD_CMD: '/usr/sbin/nginx -s reload' });
    expect(initValues({ NGINX_TEST_CMD: 'mine -t' }, debian).NGINX_TEST_CMD).toBe('mine -t');
  });

  it('writes a commented .env that dotenv reads back to exactly the given values, and resolveConfig accepts', () => {
    const values = { APP_NAME: 'shop', REPO: 'git@github.com:me/shop.git', DEPLOY_ROOT: '/srv/shop', START_CMD: 'node server.js --port "$PORT"', NGINX_LISTEN: '127.0.0.1:8080' };
    const text = renderEnvFile(initValues(values, debian));
    const parsed = parseDotenv(text);
    expect(parsed).toMatchObject(values);
    expect(Object.keys(parsed).sort()).toEqual([...Object.keys(values), 'NGINX_TEST_CMD', 'NGINX_RELOAD_CMD'].sort());
    expect(text).toMatch(/^# name of the app: .* \(required\)\nAPP_NAME=shop$/m);
    expect(text).toMatch(/^# PORT_A=3001$/m);
    const config = resolveConfig({ fileValues: parsed, env: {}, envFile: '/home/deploy/switchyard/.env' });
    expect(config.startCmd).toBe(values.START_CMD);
    expect(config.nginx.checkUrl).toBe('http://127.0.0.1:8080/__switchyard/health');
  });

  it('never replaces a different file without --force, and says unchanged for the same one', () => {
    expect(planFile(undefined, 'a', false)).toBe('create');
    expect(planFile('a', 'a', false)).toBe('unchanged');
    expect(planFile('b', 'a', false)).toBe('refuse');
    expect(planFile('b', 'a', true)).toBe('replace');
  });

  it('takes flags first, then the existing .env; names what is still missing', () => {
    expect(mergeAnswers({ APP_NAME: 'new' }, { APP_NAME: 'old', REPO: '/r', JUNK: 'x' })).toEqual({ APP_NAME: 'new', REPO: '/r' });
    expect(missingKeys({ APP_NAME: 'a' })).toEqual(['REPO', 'DEPLOY_ROOT']);
  });

  it('prints the sudoers line with absolute paths, and -T beside -t so doctor can read the configuration', () => {
    expect(sudoersLine('deploy', 'sudo -n nginx -t', 'sudo -n systemctl reload nginx', (program) => `/usr/sbin/${program}`)).toBe(
      'deploy ALL=(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -T, /usr/sbin/systemctl reload nginx',
    );
    expect(sudoersLine('deploy', 'sudo -n /usr/sbin/nginx -t', 'sudo -n /usr/sbin/nginx -s reload')).toBe('deploy ALL=(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -T, /usr/sbin/nginx -s reload');
    expect(sudoersLine('root', '/usr/sbin/nginx -t', '/usr/sbin/nginx -s reload')).toBeUndefined();
  });

  it('installs into sites-available + sites-enabled on Debian/Ubuntu, conf.d elsewhere; lists what is left', () => {
    expect(siteInstallPaths('/etc/nginx', 'shop', true)).toEqual({ file: '/etc/nginx/sites-available/shop', link: '/etc/nginx/sites-enabled/shop' });
    expect(siteInstallPaths('/etc/nginx', 'shop', false)).toEqual({ file: '/etc/nginx/conf.d/shop.conf' });
    const steps = operatorSteps({ user: 'deploy', envFile: '/e', siteFile: '/srv/shop/nginx/site.conf', install: siteInstallPaths('/etc/nginx', 'shop', true), nginxInstalled: false, testCmd: 'sudo -n /usr/sbin/nginx -t', reloadCmd: 'sudo -n /usr/bin/systemctl reload nginx' });
    expect(steps[0]).toBe('install the site: sudo install -m 644 /srv/shop/nginx/site.conf /etc/nginx/sites-available/shop && sudo ln -sfn /etc/nginx/sites-available/shop /etc/nginx/sites-enabled/shop');
    expect(steps.join('\n')).toContain("echo 'deploy ALL=(root) NOPASSWD: /usr/sbin/nginx -t, /usr/sbin/nginx -T, /usr/bin/systemctl reload nginx' | sudo tee /etc/sudoers.d/switchyard");
    expect(steps.at(-2)).toBe('check everything: ./deploy.ts doctor');
    const withDefault = operatorSteps({ user: 'deploy', envFile: '/e', siteFile: '/s', install: siteInstallPaths('/etc/nginx', 'shop', true), defaultSite: '/etc/nginx/sites-enabled/default', nginxInstalled: false, testCmd: 't', reloadCmd: 'r' });
    expect(withDefault[0]).toMatch(/&& sudo rm \/etc\/nginx\/sites-enabled\/default$/);
  });
});

describe('./deploy.ts init on a real host (real nginx, real git)', () => {
  let dir: string;
  let nginx: TestNginx & { etc: string };
  let envFile: string;
  let flags: string[];
  let listenPort: number;
  const init = (args: string[], input?: string) =>
    execa(DEPLOY_TS, ['init', ...args], { reject: false, all: true, env: { NO_COLOR: '1' }, input, timeout: 60_000 });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-init-'));
    chmodSync(dir, 0o755);
    nginx = await startSitesNginx(path.join(dir, 'web'));
    const example = createExampleRepo(path.join(dir, 'repo'));
    const [a, b, listen] = await freePorts(3);
    listenPort = listen;
    envFile = path.join(dir, 'app', '.env');
    flags = [
      '--app', 'initapp', '--repo', example.repo, '--root', path.join(dir, 'srv'), '--config', envFile,
      '--listen', `127.0.0.1:${listen}`, '--port-a', String(a), '--port-b', String(b),
      '--test-cmd', nginx.testCmd, '--reload-cmd', nginx.reloadCmd, '--pid-file', nginx.pidFile,
    ];
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('without a TTY names the missing flags and changes nothing (exit 2)', async () => {
    const result = await init(['--config', envFile, '--app', 'x'], '');
    expect(result.exitCode, result.all).toBe(2);
    expect(result.stderr).toMatch(/^error: init needs --repo \(REPO\), --root \(DEPLOY_ROOT\); nothing was changed; give them as flags/m);
    expect(existsSync(envFile)).toBe(false);
  }, 60_000);

  it('a DEPLOY_ROOT that cannot be made changes nothing at all; a failure later names what was done', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    const other = path.join(dir, 'other', '.env');
    const refused = await init(['--config', other, '--app', 'x', '--repo', dir, '--root', path.join(file, 'root')]);
    expect(refused.exitCode, refused.all).toBe(1);
    expect(refused.stderr).toMatch(/^error: DEPLOY_ROOT \S+\/a-file\/root is not a writable folder \(ENOTDIR\); nothing was changed; /m);
    expect(existsSync(other)).toBe(false);
    const noNginx = await init(['--config', other, '--app', 'x', '--repo', dir, '--root', path.join(dir, 'other-root'), '--nginx', '--nginx-dir', path.join(dir, 'other-etc')]);
    expect(noNginx.stderr).toMatch(/other-etc has neither sites-available \+ sites-enabled nor conf\.d, so it is not nginx's configuration folder; init had done: DEPLOY_ROOT created, \.env created, /);
    // An nginx without sites-enabled takes the site in conf.d; then the test command fails.
    mkdirSync(path.join(dir, 'other-etc', 'conf.d'), { recursive: true });
    const late = await init(['--config', other, '--app', 'x', '--repo', dir, '--root', path.join(dir, 'other-root'), '--test-cmd', 'false -t', '--nginx', '--nginx-dir', path.join(dir, 'other-etc'), '--force']);
    expect(late.exitCode, late.all).toBe(1);
    expect(late.stderr).toMatch(/^error: `\/bin\/sh -c 'false -t'` failed with exit code 1; init had done: \.env updated, site installed created; nothing after that; .*then run the same init again/m);
    expect(existsSync(path.join(dir, 'other-etc', 'conf.d', 'x.conf'))).toBe(true);
    rmSync(path.dirname(other), { recursive: true, force: true });
  }, 60_000);

  it('on a terminal it asks for what is missing (a real pty through script)', async () => {
    const asked = path.join(dir, 'asked', '.env');
    const command = [DEPLOY_TS, 'init', '--config', asked, '--app', 'askedapp'].map((word) => `'${word}'`).join(' ');
    const result = await execa('script', ['-qec', command, '/dev/null'], { input: `${path.join(dir, 'repo')}\n${path.join(dir, 'asked-root')}\n`, reject: false, all: true, env: { NO_COLOR: '1' }, timeout: 60_000 });
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toContain('Git URL or local path of the repository: ');
    expect(result.stdout).toContain('DEPLOY_ROOT, the folder for slots, state and logs (e.g. /srv/myapp): ');
    expect(parseDotenv(readFileSync(asked, 'utf8'))).toMatchObject({ APP_NAME: 'askedapp', REPO: path.join(dir, 'repo'), DEPLOY_ROOT: path.join(dir, 'asked-root') });
    rmSync(path.dirname(asked), { recursive: true, force: true });
    rmSync(path.join(dir, 'asked-root'), { recursive: true, force: true });
  }, 60_000);

  it('writes the .env, DEPLOY_ROOT, the upstream and the site, installs and enables it, tests and reloads nginx', async () => {
    const result = await init([...flags, '--nginx', '--nginx-dir', nginx.etc]);
    expect(result.exitCode, result.all).toBe(0);
    for (const item of ['.env', 'DEPLOY_ROOT', 'nginx upstream', 'live-file', 'nginx site', 'site installed', 'site enabled']) expect(result.stdout).toMatch(new RegExp(`^✔ ${item.replace('.', '\\.')} +created `, 'm'));
    expect(result.stdout).toMatch(/^✔ nginx test +ran /m);
    expect(result.stdout).toMatch(/^✔ nginx reload +ran /m);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'srv')).mode & 0o777).toBe(0o711);
    expect(statSync(path.join(dir, 'srv', 'nginx')).mode & 0o777).toBe(0o755);
    expect(readFileSync(path.join(nginx.etc, 'sites-available', 'initapp'), 'utf8')).toContain(`listen 127.0.0.1:${listenPort};`);
    // nginx now serves the site: the check location answers (502: nothing deployed yet, but it is Switchyard's site).
    const response = await fetch(`http://127.0.0.1:${listenPort}/__switchyard/health`);
    expect(response.headers.get('x-switchyard-group')).toBe('switchyard_initapp_a');
    expect(result.stdout).toContain('left for you:');
    // init --config wrote the .env away from deploy.ts: each command it lists names it.
    expect(result.stdout).toContain(`check everything: DEPLOY_ENV_FILE=${envFile} ./deploy.ts doctor`);
  }, 60_000);

  it('run again, changes nothing and says unchanged for each item (nginx is not reloaded)', async () => {
    const before = snapshotTree(dir.replace(/$/, ''));
    delete before['web/nginx/error.log'];
    const result = await init([...flags, '--nginx', '--nginx-dir', nginx.etc]);
    expect(result.exitCode, result.all).toBe(0);
    for (const item of ['.env', 'DEPLOY_ROOT', 'nginx upstream', 'live-file', 'nginx site', 'site installed', 'site enabled']) expect(result.stdout).toMatch(new RegExp(`^· ${item.replace('.', '\\.')} +unchanged `, 'm'));
    expect(result.stdout).toMatch(/^· nginx reload +skipped +nothing nginx reads changed/m);
    const after = snapshotTree(dir);
    delete after['web/nginx/error.log'];
    expect(after).toEqual(before);
    // Without flags, the existing .env gives the values: still nothing changes.
    const bare = await init(['--config', envFile]);
    expect(bare.exitCode, bare.all).toBe(0);
    expect(bare.stdout).toContain('init: everything was already in place');
  }, 60_000);

  it('a site certbot edited is kept byte for byte, init exits non-zero without reloading nginx; --force replaces it and keeps the old one', async () => {
    const installed = path.join(nginx.etc, 'sites-available', 'initapp');
    const [sslPort] = await freePorts(1);
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost']);
    // What certbot --nginx does: edit the server block in place, each added line marked.
    const edited = readFileSync(installed, 'utf8').replace(`listen 127.0.0.1:${listenPort};\n`, `listen 127.0.0.1:${listenPort};\n    listen 127.0.0.1:${sslPort} ssl; # managed by Certbot\n    ssl_certificate ${cert}; # managed by Certbot\n    ssl_certificate_key ${key}; # managed by Certbot\n`);
    expect(edited).toContain('managed by Certbot');
    writeFileSync(installed, edited);
    await execa('sh', ['-c', `${nginx.testCmd} && ${nginx.reloadCmd}`]);
    const https = () => execa('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `https://127.0.0.1:${sslPort}/__switchyard/health`], { reject: false });
    await waitFor('nginx to serve the HTTPS certbot added', async () => (await https()).stdout === '502');
    // A reload starts new workers: no pid after init that was not there before means nginx was not reloaded.
    const workers = () => childPids(Number(readFileSync(nginx.pidFile, 'utf8').trim())).sort();
    const workersBefore = workers();

    const refused = await init([...flags, '--nginx', '--nginx-dir', nginx.etc]);
    expect(refused.exitCode, refused.all).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^error: ${installed.replace(/[.]/g, '\\.')} was edited since Switchyard wrote it: 3 line\\(s\\) differ from what init would write, e\\.g\\. "listen 127\\.0\\.0\\.1:${sslPort} ssl; # managed by Certbot"; it was kept byte for byte, and nginx was not reloaded; see every difference with DEPLOY_ENV_FILE=\\S+ \\./deploy\\.ts nginx-site --diff --nginx-dir \\S+; .*--force \\(the current file is kept as \\S+\\.previous`, 'm'));
    expect(readFileSync(installed, 'utf8')).toBe(edited);
    expect(existsSync(`${installed}.previous`)).toBe(false);
    // The previous reload's workers may still be finishing; a reload now would have started new pids.
    expect(workers().filter((pid) => !workersBefore.includes(pid)), 'new nginx workers: init reloaded nginx').toEqual([]);
    expect((await https()).stdout).toBe('502');

    const diff = await execa(DEPLOY_TS, ['nginx-site', '--diff', '--nginx-dir', nginx.etc], { reject: false, all: true, env: { NO_COLOR: '1', DEPLOY_ENV_FILE: envFile } });
    expect(diff.exitCode, diff.all).toBe(0);
    expect(diff.stdout).toContain(`--- ${installed}\n+++ ${installed} (as init --nginx would write it)\n@@ `);
    expect(diff.stdout).toContain(`\n-    ssl_certificate ${cert}; # managed by Certbot\n`);
    expect(diff.all).toContain(`${installed} was edited since Switchyard wrote it: init --nginx keeps it unless --force`);
    expect(readFileSync(installed, 'utf8')).toBe(edited);

    const forced = await init([...flags, '--nginx', '--nginx-dir', nginx.etc, '--force']);
    expect(forced.exitCode, forced.all).toBe(0);
    expect(forced.stdout).toMatch(/^✔ site installed +replaced +\S+ \(the previous one kept as \S+\.previous\)$/m);
    expect(forced.stdout).toMatch(/^✔ nginx reload +ran /m);
    expect(readFileSync(`${installed}.previous`, 'utf8')).toBe(edited);
    expect(readFileSync(installed, 'utf8')).toBe(readFileSync(path.join(dir, 'srv', 'nginx', 'site.conf'), 'utf8'));
    const clean = await execa(DEPLOY_TS, ['nginx-site', '--diff', '--nginx-dir', nginx.etc], { reject: false, all: true, env: { NO_COLOR: '1', DEPLOY_ENV_FILE: envFile } });
    expect(clean.stdout).not.toContain('@@');
    expect(clean.all).toContain('is up to date');
    rmSync(`${installed}.previous`);
  }, 60_000);

  it("Switchyard's own unedited site, rendered by an older template, is updated without --force", async () => {
    const installed = path.join(nginx.etc, 'sites-available', 'initapp');
    const current = readFileSync(installed, 'utf8');
    const older = stampedSite('initapp: an older Switchyard', current.split('\n').slice(2).join('\n').replace('proxy_http_version 1.1;', 'proxy_http_version 1.0;'));
    expect(older).not.toBe(current);
    writeFileSync(installed, older);
    const result = await init([...flags, '--nginx', '--nginx-dir', nginx.etc]);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stdout).toMatch(/^✔ site installed +updated /m);
    expect(readFileSync(installed, 'utf8')).toBe(current);
  }, 60_000);

  it('new flags on an .env init wrote and nobody edited need no --force: a server name and --tls acme give the site HTTPS', async () => {
    const site = path.join(dir, 'srv', 'nginx', 'site.conf');
    const https = await init([...flags, '--server-name', 'init.test', '--tls', 'acme']);
    expect(https.exitCode, https.all).toBe(0);
    expect(https.stdout).toMatch(/^✔ \.env +updated /m);
    expect(parseDotenv(readFileSync(envFile, 'utf8'))).toMatchObject({ NGINX_SERVER_NAME: 'init.test', NGINX_TLS: 'acme' });
    expect(readFileSync(site, 'utf8')).toContain('    listen 443 ssl http2;\n    server_name init.test;\n');
    const diff = await execa(DEPLOY_TS, ['nginx-site', '--diff', '--nginx-dir', nginx.etc], { reject: false, all: true, env: { NO_COLOR: '1', DEPLOY_ENV_FILE: envFile } });
    expect(diff.stdout).toContain('\n+        return 301 https://$host$request_uri;\n');
    expect(diff.all).toContain("is Switchyard's, unedited: init --nginx would update it as shown");
    const back = await init([...flags, '--server-name', '_', '--tls', 'off']);
    expect(back.exitCode, back.all).toBe(0);
    expect(readFileSync(site, 'utf8')).not.toContain('ssl');
  }, 60_000);

  it('never overwrites a different .env without --force', async () => {
    const edited = `${readFileSync(envFile, 'utf8')}# my note\n`;
    writeFileSync(envFile, edited);
    const result = await init([...flags, '--branch', 'release']);
    expect(result.exitCode, result.all).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: ${envFile.replace(/[.]/g, '\\.')} exists with other content; it was left as it is; .*--force`, 'm'));
    expect(readFileSync(envFile, 'utf8')).toBe(edited);
    const forced = await init([...flags, '--branch', 'release', '--force']);
    expect(forced.exitCode, forced.all).toBe(0);
    expect(forced.stdout).toMatch(/^✔ \.env +updated /m);
    expect(parseDotenv(readFileSync(envFile, 'utf8')).DEPLOY_BRANCH).toBe('release');
  }, 60_000);
});
