import { execa } from 'execa';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { nginxLayout, startNginx, type TestNginx } from '../../harness/nginx.ts';
import { freePorts } from '../../harness/ports.ts';
import { createDeployUser, type DeployUser } from '../../harness/sshd.ts';
import { waitFor } from '../../harness/wait.ts';

/**
 * Switchyard as npm users get it: `npm pack`, `npm install -g` into a root-owned prefix, run by a
 * non-root user through the installed `switchyard` (init, doctor, deploy, status against a real nginx),
 * upgraded to a newer packed version while its slot serves under load, then uninstalled. The
 * configuration lives outside the package (${XDG_CONFIG_HOME:-~/.config}/switchyard), so neither the
 * upgrade nor the uninstall touches it.
 */

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const NPM_ENV = { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'error' };

/** What `npm pack` ships, top-level entries only: the bundle and what it reaches by path, nothing of the sources or tests. */
const SHIPPED = ['.env.example', 'README.md', 'deploy.ts', 'dist', 'docs', 'graceful', 'package.json', 'templates'];

async function pack(dir: string, into: string, options: { ignoreScripts?: boolean } = {}): Promise<string> {
  const result = await execa('npm', ['pack', '--json', '--pack-destination', into, ...(options.ignoreScripts ? ['--ignore-scripts'] : [])], { cwd: dir, env: NPM_ENV });
  const [{ filename }] = JSON.parse(result.stdout.slice(result.stdout.indexOf('[')));
  return path.join(into, filename);
}

describe('npm install -g', () => {
  let dir: string;
  let user: DeployUser;
  let nginx: TestNginx | undefined;
  let prefix: string;
  let v1: string;
  let v2: string;
  /** npm reads its global npmrc from under --prefix: a prefix of ours keeps the host's (a CA file, a registry) only when told. */
  let globalConfig: string[];
  const bin = () => path.join(prefix, 'bin', 'switchyard');

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('test/e2e/npm-install.test.ts installs globally as root and runs the CLI as another user: run the suite as root (CI does)');
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-npm-'));
    chmodSync(dir, 0o755);
    prefix = path.join(dir, 'prefix');
    user = createDeployUser(`swnpm${process.pid % 100_000}`);
    globalConfig = ['--globalconfig', (await execa('npm', ['config', 'get', 'globalconfig'], { env: NPM_ENV })).stdout.trim()];
    v1 = await pack(PROJECT, dir);
    // The upgrade: the same package with a newer version, packed as published (its bundle already inside).
    const staging = path.join(dir, 'staging');
    mkdirSync(staging);
    await execa('tar', ['-xzf', v1, '-C', staging]);
    const manifest = JSON.parse(readFileSync(path.join(staging, 'package', 'package.json'), 'utf8'));
    writeFileSync(path.join(staging, 'package', 'package.json'), `${JSON.stringify({ ...manifest, version: `${manifest.version}-upgrade.1` }, null, 2)}\n`);
    v2 = await pack(path.join(staging, 'package'), dir, { ignoreScripts: true });
  }, 240_000);

  afterAll(async () => {
    if (existsSync(bin())) for (const slot of ['a', 'b']) await asUser([bin(), 'stop', `npmapp-${slot}`, '--force']).catch(() => undefined);
    await nginx?.stop();
    user?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function asUser(argv: string[]) {
    const env = [`PATH=${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, `HOME=${user.home}`, `USER=${user.name}`, 'NO_COLOR=1'];
    return execa('runuser', ['-u', user.name, '--', 'env', '-i', ...env, ...argv], { reject: false, all: true, cwd: '/', timeout: 180_000 });
  }

  it('npm pack ships the bundle, the templates, the drain helper and the docs: no tests, benches or sources', async () => {
    const listed = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PROJECT, env: NPM_ENV });
    const files: string[] = JSON.parse(listed.stdout.slice(listed.stdout.indexOf('[')))[0].files.map((file: { path: string }) => file.path);
    expect([...new Set(files.map((file) => file.split('/')[0]))].sort()).toEqual(SHIPPED);
    expect(files).toContain('dist/deploy.mjs');
    expect(files).toContain('dist/supervisor.mjs');
    expect(files.filter((file) => /(^|\/)(test|bench|harness|lib|scripts|tools)\//.test(file) || file.endsWith('.lock'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(PROJECT, 'package.json'), 'utf8'));
    expect(manifest.bin).toEqual({ switchyard: './dist/deploy.mjs' });
  });

  it('installs globally as root; a non-root user inits, deploys and reads status through `switchyard`, config in ~/.config', { timeout: 180_000 }, async () => {
    const install = await execa('npm', ['install', '-g', '--prefix', prefix, ...globalConfig, '--prefer-offline', v1], { env: NPM_ENV, reject: false, all: true });
    expect(install.exitCode, install.all).toBe(0);
    const packageDir = path.join(prefix, 'lib', 'node_modules', 'switchyard');
    expect(existsSync(path.join(packageDir, 'dist', 'deploy.mjs'))).toBe(true);
    expect(existsSync(path.join(packageDir, 'test'))).toBe(false);

    const version = await asUser([bin(), '--version']);
    expect(version.stdout).toBe(`switchyard ${JSON.parse(readFileSync(path.join(PROJECT, 'package.json'), 'utf8')).version}`);
    const help = await asUser([bin(), '--help']);
    expect(help.stdout).toMatch(/^Usage: switchyard <command>/);
    expect(help.stdout).toContain(`Configuration: ${user.home}/.config/switchyard/.env`);
    expect(help.stdout).not.toContain('./deploy.ts');

    // With no configuration yet, the one line names the installed command and where the config goes.
    const none = await asUser([bin(), 'status']);
    expect(none.exitCode).not.toBe(0);
    expect(none.stderr).toContain(`${user.home}/.config/switchyard/.env`);
    expect(none.stderr).toContain('switchyard init');
    expect(none.stderr).not.toContain('./deploy.ts');

    // Where it may not write, init says so before it creates anything.
    const srv = path.join(dir, 'srv');
    mkdirSync(srv, { mode: 0o755 });
    const example = createExampleRepo(path.join(srv, 'repo'));
    const refused = await asUser([bin(), 'init', '--app', 'npmapp', '--repo', example.repo, '--root', '/var/lib/switchyard-npm-test/npmapp']);
    expect(refused.exitCode, refused.all).not.toBe(0);
    expect(refused.stderr).toMatch(/^error: init cannot write DEPLOY_ROOT \/var\/lib\/switchyard-npm-test\/npmapp: \/var\/lib is not writable by swnpm\d+; nothing was created or changed/m);
    expect(existsSync(`${user.home}/.config/switchyard/.env`)).toBe(false);
    expect(existsSync('/var/lib/switchyard-npm-test')).toBe(false);

    const [portA, portB, listen] = await freePorts(3);
    const deployRoot = path.join(srv, 'npmapp');
    await execa('chown', ['-R', `${user.uid}`, srv]);
    const layout = nginxLayout(path.join(dir, 'nginx'));
    const init = await asUser([bin(), 'init', '--app', 'npmapp', '--repo', example.repo, '--root', deployRoot, '--listen', `127.0.0.1:${listen}`]);
    expect(init.exitCode, init.all).toBe(0);
    const envFile = path.join(user.home, '.config', 'switchyard', '.env');
    expect(init.stdout).toContain(`✔ .env            created   ${envFile}`);
    expect(readdirSync(packageDir).filter((entry) => entry === '.env' || entry === 'apps' || entry === 'deploy')).toEqual([]);
    // The test's own nginx (a private prefix, a free port) and quick bounds: what a test machine cannot share with a host.
    writeFileSync(envFile, `${readFileSync(envFile, 'utf8')}PORT_A=${portA}\nPORT_B=${portB}\nNGINX_TEST_CMD="${layout.testCmd}"\nNGINX_RELOAD_CMD="${layout.reloadCmd}"\nNGINX_PID_FILE=${layout.pidFile}\nBAKE_TIME=0\nBUILD_CMD="node build.js"\nSTART_CMD="node server.js"\n`);
    const site = await asUser([bin(), 'nginx-site']);
    expect(site.exitCode, site.all).toBe(0);
    const upstream = await asUser([bin(), 'upstream', '--write']);
    expect(upstream.exitCode, upstream.all).toBe(0);
    nginx = await startNginx(path.join(dir, 'nginx'), { site: site.stdout, port: listen });

    const deploy = await asUser([bin(), 'deploy']);
    expect(deploy.exitCode, deploy.all).toBe(0);
    expect(deploy.stdout).toMatch(/deployed/);
    const status = await asUser([bin(), 'status']);
    expect(status.exitCode, status.all).toBe(0);
    expect(status.all).not.toContain('./deploy.ts');
    const doctor = await asUser([bin(), 'doctor']);
    expect(doctor.all).toContain(envFile);
    const served = await fetch(nginx.url('/'), { headers: { connection: 'close' } });
    expect(served.status).toBe(200);
  });

  it('an upgrade to a newer packed version under load fails no request and keeps config, state and the running slot', { timeout: 180_000 }, async () => {
    const envFile = path.join(user.home, '.config', 'switchyard', '.env');
    const configBefore = readFileSync(envFile, 'utf8');
    const stateBefore = JSON.parse((await asUser([bin(), 'status', '--json'])).stdout);
    const load = startLoad({ port: nginx!.port, connections: 8, mix: { fast: 0.8, post: 0.2 }, maxDurationMs: 120_000 });
    await waitFor('the load to get answers', () => load.records.length >= 50);
    const upgrade = await execa('npm', ['install', '-g', '--prefix', prefix, ...globalConfig, '--prefer-offline', v2], { env: NPM_ENV, reject: false, all: true });
    const countAtUpgrade = load.records.length;
    await waitFor('answers after the upgrade', () => load.records.length >= countAtUpgrade + 50);
    const records = await load.stop();
    expect(upgrade.exitCode, upgrade.all).toBe(0);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect(readFileSync(envFile, 'utf8')).toBe(configBefore);
    expect((await asUser([bin(), '--version'])).stdout).toMatch(/-upgrade\.1$/);
    const stateAfter = JSON.parse((await asUser([bin(), 'status', '--json'])).stdout);
    const slotFacts = (report: any) =>
      Object.fromEntries(
        Object.entries(report.slots).map(([slot, facts]: [string, any]) => [
          slot,
          { live: facts.live, pid: facts.pid, commit: facts.commit },
        ]),
      );
    expect(slotFacts(stateAfter)).toEqual(slotFacts(stateBefore));
    expect(Object.values(slotFacts(stateBefore)).some((facts: any) => facts.live && facts.pid)).toBe(true);

    const uninstall = await execa('npm', ['uninstall', '-g', '--prefix', prefix, ...globalConfig, 'switchyard'], { env: NPM_ENV, reject: false, all: true });
    expect(uninstall.exitCode, uninstall.all).toBe(0);
    expect(existsSync(bin())).toBe(false);
    expect(readFileSync(envFile, 'utf8')).toBe(configBefore);
    // The slot is the user's process, not the package's: it still serves once the package is gone.
    expect((await fetch(nginx!.url('/'), { headers: { connection: 'close' } })).status).toBe(200);
  });

  it('npx runs a packed version without installing it, and a project runs its devDependency with npx switchyard', { timeout: 180_000 }, async () => {
    const project = path.join(dir, 'project');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), '{ "name": "some-app", "private": true }\n');
    const version = JSON.parse(readFileSync(path.join(PROJECT, 'package.json'), 'utf8')).version;
    const npx = await execa('npx', ['--yes', ...globalConfig, '--package', v1, '--', 'switchyard', '--version'], { cwd: project, env: NPM_ENV, reject: false, all: true });
    expect(npx.exitCode, npx.all).toBe(0);
    expect(npx.stdout.trim().split('\n').at(-1)).toBe(`switchyard ${version}`);
    const add = await execa('npm', ['install', '--save-dev', ...globalConfig, '--prefer-offline', v1], { cwd: project, env: NPM_ENV, reject: false, all: true });
    expect(add.exitCode, add.all).toBe(0);
    const help = await execa('npx', ['--no-install', 'switchyard', '--help'], { cwd: project, env: { ...NPM_ENV, HOME: project, XDG_CONFIG_HOME: '' }, reject: false, all: true });
    expect(help.exitCode, help.all).toBe(0);
    expect(help.stdout).toMatch(/^Usage: switchyard <command>/);
    // As a dependency, as globally: the configuration is the user's, never inside node_modules.
    expect(help.stdout).toContain(process.getuid?.() === 0 ? 'Configuration: /etc/switchyard/.env' : `Configuration: ${project}/.config/switchyard/.env`);
  });

  it('a non-root user installs it into a prefix of its own and finds the same configuration and slots', { timeout: 180_000 }, async () => {
    const own = path.join(user.home, '.local');
    const install = await asUser(['npm', 'install', '-g', '--prefix', own, ...globalConfig, '--no-audit', '--no-fund', '--loglevel=error', v2]);
    expect(install.exitCode, install.all).toBe(0);
    const status = await asUser([path.join(own, 'bin', 'switchyard'), 'status']);
    expect(status.exitCode, status.all).toBe(0);
    expect(status.stdout).toMatch(/^npmapp: live slot [ab] /);
    const uninstall = await asUser(['npm', 'uninstall', '-g', '--prefix', own, ...globalConfig, '--loglevel=error', 'switchyard']);
    expect(uninstall.exitCode, uninstall.all).toBe(0);
    expect(existsSync(path.join(own, 'lib', 'node_modules', 'switchyard'))).toBe(false);
    expect(existsSync(path.join(user.home, '.config', 'switchyard', '.env'))).toBe(true);
  });
});
