import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TS } from '../../harness/host.ts';
import { createDeployUser, requirePrograms, type DeployUser } from '../../harness/sshd.ts';
import { applyBootEntry, cronMarker, editCrontab, renderBootUnit, renderCronLine, systemdIsInit, type BootEntry } from '../../lib/setup/boot.ts';
import { shellQuote } from '../../lib/host/commands/quote.ts';

const entry: BootEntry = {
  appName: 'shop',
  deployTs: "/srv/shop/switch yard/deploy.ts",
  user: 'deploy',
  pathValue: '/opt/node/bin:/usr/local/bin:/usr/bin:/bin',
  envFile: "/srv/shop/it's.env",
  logFile: '/srv/shop/root/run/resume.log',
};

describe('the boot entry', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-boot-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tells systemd from other inits by PID 1', () => {
    expect(systemdIsInit('systemd\n')).toBe(true);
    expect(systemdIsInit('init\n')).toBe(false);
    expect(systemdIsInit('')).toBe(false);
  });

  it('renders a oneshot unit that runs resume as the deploy user after nginx, keeps what it starts, and retries a bounded number of times', () => {
    const unit = renderBootUnit(entry);
    expect(unit).toContain('After=network-online.target nginx.service\n');
    expect(unit).toContain('Type=oneshot\nRemainAfterExit=yes\nKillMode=process\nUser=deploy\n');
    expect(unit).toContain('Environment="PATH=/opt/node/bin:/usr/local/bin:/usr/bin:/bin"\n');
    expect(unit).toContain(`Environment="DEPLOY_ENV_FILE=/srv/shop/it's.env"\n`);
    expect(unit).toContain('ExecStart="/srv/shop/switch yard/deploy.ts" resume\n');
    expect(unit).toContain('[Install]\nWantedBy=multi-user.target\n');
  });

  const noSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).error ? 'systemd-analyze is not installed: apt-get install -y systemd to verify the rendered unit' : undefined;
  it.skipIf(noSystemdAnalyze)(`systemd-analyze verify accepts the boot unit${noSystemdAnalyze ? ` (skipped: ${noSystemdAnalyze})` : ''}`, () => {
    const file = path.join(dir, 'switchyard-resume-shop.service');
    writeFileSync(file, renderBootUnit(entry));
    // systemd-analyze checks the syntax without a running systemd; it complains about the missing binary only.
    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(verify.stderr.split('\n').filter((line) => line && !/Command .* is not executable|No such file or directory|not found|Failed to|User .* not found/.test(line))).toEqual([]);
  });

  it('renders an @reboot line whose paths are single words for /bin/sh, with our marker', () => {
    const line = renderCronLine(entry);
    expect(line).toBe(
      `@reboot for try in 1 2 3 4 5 6; do PATH='/opt/node/bin:/usr/local/bin:/usr/bin:/bin' DEPLOY_ENV_FILE='/srv/shop/it'\\''s.env' '/srv/shop/switch yard/deploy.ts' resume && break; sleep 10; done >> '/srv/shop/root/run/resume.log' 2>&1 # switchyard-resume:shop`,
    );
    // /bin/sh reads the quoted words back as the paths.
    expect(execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${shellQuote(entry.envFile!)} ${shellQuote(entry.deployTs)}`], { encoding: 'utf8' })).toBe(`${entry.envFile}\n${entry.deployTs}\n`);
    expect(() => renderCronLine({ ...entry, logFile: '/x\n@reboot rm -rf /' })).toThrow(/newline or control character/);
    expect(() => renderBootUnit({ ...entry, user: 'root; rm' })).toThrow(/cannot run a boot entry/);
  });

  it('adds its line once (replacing an older one of the same app), removes only its own, keeps everything else', () => {
    const other = '0 3 * * * /usr/local/bin/backup\n\n# a comment\n';
    const added = editCrontab(other, 'shop', 'LINE ' + cronMarker('shop'));
    expect(added).toBe(`0 3 * * * /usr/local/bin/backup\n\n# a comment\nLINE ${cronMarker('shop')}\n`);
    expect(editCrontab(added, 'shop', 'NEW ' + cronMarker('shop'))).toBe(`0 3 * * * /usr/local/bin/backup\n\n# a comment\nNEW ${cronMarker('shop')}\n`);
    expect(editCrontab(added + `X ${cronMarker('shop2')}\n`, 'shop', null)).toBe(`0 3 * * * /usr/local/bin/backup\n\n# a comment\nX ${cronMarker('shop2')}\n`);
    expect(editCrontab(`LINE ${cronMarker('shop')}\n`, 'shop', null)).toBe('');
  });

  it('without systemd and without crontab, says how to install cron and installs nothing', async () => {
    // A search path with no crontab in it: the host's own cron does not matter.
    const options = { env: process.env, systemd: false, uid: 1000, searchPath: dir };
    const error = await applyBootEntry(entry, false, options).catch((caught) => caught);
    expect(error.line).toMatch(/^systemd is not PID 1 here and crontab is not installed, so no boot entry can be made; nothing was installed; install Debian's cron package \(sudo apt-get install -y cron/);
  });

  it('with cron: installs its @reboot line once, in the crontab of the user it runs as, and --remove takes only it away', async () => {
    const hasCron = spawnSync('sh', ['-c', 'command -v crontab']).status === 0;
    expect(hasCron, 'crontab is not installed: apt-get install -y cron (.ci/run installs it)').toBe(true);
    const user = os.userInfo().username;
    const mine = { ...entry, appName: `sytest${process.pid}`, user };
    const crontab = () => spawnSync('crontab', ['-l'], { encoding: 'utf8' }).stdout;
    const before = crontab();
    try {
      expect(await applyBootEntry(mine, false, { env: process.env, systemd: false })).toEqual({ how: 'crontab', changed: true, where: `the crontab of ${user}` });
      expect(await applyBootEntry(mine, false, { env: process.env, systemd: false })).toMatchObject({ changed: false });
      expect(crontab().split('\n').filter((line) => line.endsWith(cronMarker(mine.appName)))).toEqual([renderCronLine(mine)]);
      expect(await applyBootEntry(mine, true, { env: process.env, systemd: false })).toMatchObject({ changed: true });
      expect(await applyBootEntry(mine, true, { env: process.env, systemd: false })).toMatchObject({ changed: false });
      expect(crontab()).toBe(before);
    } finally {
      await applyBootEntry(mine, true, { env: process.env, systemd: false });
    }
  });

  it('with systemd, a non-root user is told that root installs it once (not through the deploy user\'s sudo rules); nothing is written', async () => {
    const error = await applyBootEntry(entry, false, { env: process.env, systemd: true, uid: 1000 }).catch((caught) => caught);
    expect(error.line).toBe(`a boot unit goes in /etc/systemd/system, which needs root; nothing was installed; as root, once (or from an account with full sudo): sudo DEPLOY_ENV_FILE='/srv/shop/it'\\''s.env' /srv/shop/switch yard/deploy.ts install-boot (the unit runs resume as DEPLOY_ROOT's owner, deploy)`);
  });
});

/** install-boot run by root (an admin through sudo): resume runs as the deploy user who owns DEPLOY_ROOT, not as the admin. */
describe('install-boot as root', () => {
  const tag = String(process.pid % 100000);
  let dir: string;
  let user: DeployUser;
  let envFile: string;
  const run = (args: string[]) => execa(DEPLOY_TS, ['install-boot', ...args], { reject: false, all: true, env: { NO_COLOR: '1', DEPLOY_ENV_FILE: envFile, SUDO_USER: 'root' }, timeout: 60_000 });
  const crontabOf = (name: string) => spawnSync('crontab', ['-u', name, '-l'], { encoding: 'utf8' }).stdout;

  beforeAll(() => {
    requirePrograms();
    expect(systemdIsInit(), 'this test takes the crontab path: systemd must not be PID 1 (a CI container)').toBe(false);
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-boot-root-'));
    user = createDeployUser(`syboot${tag}`);
    mkdirSync(path.join(dir, 'root'));
    chownSync(path.join(dir, 'root'), user.uid, user.uid);
    envFile = path.join(dir, 'switchyard.env');
    writeFileSync(envFile, `APP_NAME=syboot${tag}\nREPO=${dir}\nDEPLOY_ROOT=${path.join(dir, 'root')}\nSWITCH=none\n`);
  });

  afterAll(() => {
    if (user) spawnSync('crontab', ['-u', user.name, '-r']);
    // Where a wrong user choice (SUDO_USER) would have put it: take only our line out of root's crontab.
    const root = crontabOf('root');
    if (root.includes(cronMarker(`syboot${tag}`))) spawnSync('crontab', ['-'], { input: editCrontab(root, `syboot${tag}`, null) });
    user?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("puts the @reboot line in the crontab of DEPLOY_ROOT's owner, even when SUDO_USER names another account; --remove takes it away", async () => {
    const rootBefore = crontabOf('root');
    const installed = await run([]);
    expect(installed.exitCode, installed.all).toBe(0);
    expect(installed.all).toContain(`installed the @reboot line in the crontab of ${user.name}: at boot, ${user.name} runs`);
    expect(crontabOf(user.name)).toContain(cronMarker(`syboot${tag}`));
    expect(crontabOf('root')).toBe(rootBefore);
    const removed = await run(['--remove']);
    expect(removed.exitCode, removed.all).toBe(0);
    expect(crontabOf(user.name)).not.toContain(cronMarker(`syboot${tag}`));
  }, 60_000);

  it('without DEPLOY_ROOT there is no deploy user to name: it says so and installs nothing', async () => {
    writeFileSync(envFile, readFileSync(envFile, 'utf8').replace(`DEPLOY_ROOT=${path.join(dir, 'root')}`, `DEPLOY_ROOT=${path.join(dir, 'missing')}`));
    const refused = await run([]);
    expect(refused.exitCode, refused.all).toBe(1);
    expect(refused.stderr).toMatch(/^error: DEPLOY_ROOT \S+\/missing does not exist, so there is no deploy user to run resume as; nothing was installed; as the deploy user, run \.\/deploy\.ts init/m);
  }, 60_000);
});
