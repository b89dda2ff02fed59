import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explainGitFailure, lsRemoteArgv } from '../../lib/setup/doctor/repo.ts';
import { operatorSteps, siteInstallPaths, sudoersLine } from '../../lib/setup/init.ts';
import { templateFile } from '../../lib/project-dir.ts';
import { resolveConfig } from '../../lib/config/config.ts';

/** Setup advice from the real-app trial (issue #23, item 8): each line must be true, and in the order it can be run. */
describe('doctor: an unreachable REPO, explained from what real git prints', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-defects-b-setup-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lsRemote = async (repo: string) => {
    const [program, ...args] = lsRemoteArgv(repo, 'main');
    const result = await execa(program, args, { reject: false, env: { GIT_TERMINAL_PROMPT: '0' } });
    expect(result.exitCode).not.toBe(0);
    return result.stderr;
  };

  it('a path with no repository says so, not "...: and the repository exists"', async () => {
    const missing = path.join(dir, 'nothing-here.git');
    const explained = explainGitFailure(await lsRemote(missing), missing);
    expect(explained.detail).toBe(`REPO ${missing} is not a git repository (the path does not exist, or holds no repository)`);
    expect(explained.fix).toBe(`fix REPO in the .env, or create the repository there (git init --bare ${missing}) and push to it`);
  });

  it('a host that does not resolve and a refused port each name their cause', async () => {
    const unresolved = explainGitFailure(await lsRemote('ssh://git@switchyard-defects-b.invalid/shop.git'), 'ssh://git@switchyard-defects-b.invalid/shop.git');
    expect(unresolved.detail).toMatch(/^git cannot reach the host of REPO ssh:\/\/git@switchyard-defects-b\.invalid\/shop\.git: ssh: Could not resolve hostname/);
    const refused = explainGitFailure(await lsRemote('http://127.0.0.1:1/shop.git'), 'http://127.0.0.1:1/shop.git');
    expect(refused.detail).toMatch(/^git cannot connect to REPO http:\/\/127\.0\.0\.1:1\/shop\.git: unable to access/);
    for (const each of [unresolved, refused]) expect(each.detail).not.toMatch(/and the repository exists/);
  }, 60_000);
});

describe('init: the steps left for the operator', () => {
  const input = { user: 'deploy', envFile: '/srv/shop/switchyard.env', siteFile: '/srv/shop/nginx/site.conf', install: siteInstallPaths('/etc/nginx', 'shop', true), nginxInstalled: false, testCmd: 'sudo -n /usr/sbin/nginx -t', reloadCmd: 'sudo -n /usr/bin/systemctl reload nginx', defaultEnvFile: '/srv/switchyard/.env' };

  it('lists the sudoers line before the "test and reload nginx" it allows', () => {
    const steps = operatorSteps(input);
    const sudoers = steps.findIndex((step) => step.includes('/etc/sudoers.d/switchyard'));
    const reload = steps.findIndex((step) => step.startsWith('then test and reload nginx'));
    expect(sudoers).toBeGreaterThan(0);
    expect(sudoers).toBeLessThan(reload);
  });

  it('names DEPLOY_ENV_FILE in the commands when init --config wrote the .env elsewhere', () => {
    expect(operatorSteps(input).slice(-2)).toEqual(['check everything: DEPLOY_ENV_FILE=/srv/shop/switchyard.env ./deploy.ts doctor', 'first deploy: DEPLOY_ENV_FILE=/srv/shop/switchyard.env ./deploy.ts deploy']);
    expect(operatorSteps({ ...input, envFile: input.defaultEnvFile }).slice(-2)).toEqual(['check everything: ./deploy.ts doctor', 'first deploy: ./deploy.ts deploy']);
  });

  it("init's sudoers line, where one is needed (the reload mode without the helper), allows nginx -T, which doctor runs", () => {
    expect(sudoersLine('deploy', input.testCmd, input.reloadCmd)).toContain('/usr/sbin/nginx -T');
  });

  // The template follows docs/security.md: the root-owned helper and nothing else (a raw nginx rule makes the deploy user root).
  it('templates/nginx/sudoers allows only the nginx helper, and visudo accepts it', async () => {
    const template = readFileSync(templateFile('nginx/sudoers'), 'utf8');
    expect(template.split('\n').filter((each) => each.startsWith('deploy '))).toEqual(['deploy ALL=(root) NOPASSWD: /usr/local/sbin/switchyard-nginx-helper']);
    const checked = await execa('visudo', ['-cf', templateFile('nginx/sudoers')], { reject: false, all: true });
    expect(checked.exitCode, `${checked.all} (install sudo: apt-get install -y sudo)`).toBe(0);
  });
});

describe('config: refused before anything runs', () => {
  const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop' };
  const problems = (values: Record<string, string>) => {
    try {
      resolveConfig({ fileValues: { ...base, ...values }, env: {}, envFile: '/srv/.env' });
      return '';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it("APP_NAME a..b (a path step in every file named after it) is refused by the config check, not after the lock", () => {
    expect(problems({ APP_NAME: 'a..b' })).toContain(`APP_NAME must not contain '..' (it names files and processes); got "a..b"`);
    expect(problems({ APP_NAME: 'a.b' })).toBe('');
  });

  it("a slot port equal to nginx's own listen port is refused (with INSTANCES, anywhere in the slot's range)", () => {
    expect(problems({ PORT_B: '8080', NGINX_LISTEN: '127.0.0.1:8080' })).toContain("NGINX_LISTEN's port 8080 is also slot b's (PORT_B): nginx listens there itself");
    expect(problems({ PORT_A: '8078', PORT_B: '8090', INSTANCES: '3', NGINX_LISTEN: '8080' })).toContain("NGINX_LISTEN's port 8080 is also slot a's (PORT_A with INSTANCES=3)");
    expect(problems({ PORT_B: '8080', NGINX_LISTEN: '8080', SWITCH: 'command', SWITCH_CMD: 'true' })).not.toContain('NGINX_LISTEN');
    expect(problems({ NGINX_LISTEN: '8080' })).toBe('');
  });
});
