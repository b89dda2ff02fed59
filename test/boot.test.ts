import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyBootEntry, cronMarker, editCrontab, renderBootUnit, renderCronLine, shellQuote, systemdIsInit, type BootEntry } from '../lib/setup/boot.ts';

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
    const error = await applyBootEntry(entry, false, { systemd: false, uid: 1000, searchPath: dir }).catch((caught) => caught);
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
      expect(await applyBootEntry(mine, false, { systemd: false })).toEqual({ how: 'crontab', changed: true, where: `the crontab of ${user}` });
      expect(await applyBootEntry(mine, false, { systemd: false })).toMatchObject({ changed: false });
      expect(crontab().split('\n').filter((line) => line.endsWith(cronMarker(mine.appName)))).toEqual([renderCronLine(mine)]);
      expect(await applyBootEntry(mine, true, { systemd: false })).toMatchObject({ changed: true });
      expect(await applyBootEntry(mine, true, { systemd: false })).toMatchObject({ changed: false });
      expect(crontab()).toBe(before);
    } finally {
      await applyBootEntry(mine, true, { systemd: false });
    }
  });

  it('with systemd, a non-root user is told to use sudo; nothing is written', async () => {
    await expect(applyBootEntry(entry, false, { systemd: true, uid: 1000 })).rejects.toThrow(/needs root/);
  });
});
