import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../lib/errors.ts';
import { escapeSpecifiers, parseMainPid, quoteExecArgument, renderSlotEnv, renderUnit, slotEnvFile, UNIT_TEMPLATE_FILE, unitName } from '../../lib/slot/systemd.ts';
import { systemctlArgv } from '../../lib/host/commands/systemctl.ts';

const template = readFileSync(UNIT_TEMPLATE_FILE, 'utf8');
const base = { appName: 'myapp', deployRoot: '/srv/myapp', startCmd: 'npm start', stopTimeoutMs: 30_000, user: 'deploy' };

/** The [Service] lines that matter, without comments: what systemd will run. */
function directives(unit: string): string[] {
  return unit.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('unitName and paths', () => {
  it('names one template instance per slot', () => {
    expect(unitName('myapp', 'a')).toBe('myapp@a.service');
    expect(unitName('my_app.v2', 'b')).toBe('my_app.v2@b.service');
  });

  it('refuses a name systemd or sudoers would read differently', () => {
    expect(() => unitName('my app', 'a')).toThrow(SwitchyardError);
    expect(() => unitName('-x', 'a')).toThrow(/cannot name a systemd unit/);
    expect(() => unitName('myapp', 'c' as 'a')).toThrow(/slot must be a or b/);
  });

  it('puts the slot env file where the unit reads it', () => {
    expect(slotEnvFile('/srv/myapp', 'myapp', 'a')).toBe('/srv/myapp/run/myapp-a.env');
  });
});

describe('renderUnit', () => {
  it('renders every directive of the template exactly', () => {
    expect(directives(renderUnit(template, base))).toEqual([
      '[Unit]',
      'Description=Switchyard myapp slot %i',
      'After=network.target',
      'StartLimitIntervalSec=0',
      '[Service]',
      'Type=simple',
      'User=deploy',
      'WorkingDirectory=/srv/myapp/slots/%i',
      'EnvironmentFile=/srv/myapp/run/myapp-%i.env',
      'ExecStart=/bin/sh -c "npm start"',
      'KillMode=control-group',
      'KillSignal=SIGTERM',
      'TimeoutStopSec=30',
      'Restart=on-failure',
      'RestartSec=1',
      'StandardOutput=append:/srv/myapp/run/myapp-%i.log',
      'StandardError=inherit',
    ]);
  });

  it('leaves no placeholder, and names the app in its header comment', () => {
    const unit = renderUnit(template, base);
    expect(unit).not.toMatch(/\{\{/);
    expect(unit.split('\n')[0]).toBe('# Switchyard slot unit for myapp: one instance per slot, myapp@a and myapp@b.');
  });

  it('quotes START_CMD for systemd: backslash, double quote, % and $ escaped, one argument', () => {
    const unit = renderUnit(template, { ...base, startCmd: `node server.js --port "$PORT" --name 'a b' 100% C:\\x` });
    expect(directives(unit)).toContain(`ExecStart=/bin/sh -c "node server.js --port \\"$$PORT\\" --name 'a b' 100%% C:\\\\x"`);
  });

  it('escapes specifiers in DEPLOY_ROOT and drops a trailing slash', () => {
    const lines = directives(renderUnit(template, { ...base, deployRoot: '/srv/100%/' }));
    expect(lines).toContain('WorkingDirectory=/srv/100%%/slots/%i');
    expect(lines).toContain('EnvironmentFile=/srv/100%%/run/myapp-%i.env');
    expect(lines).toContain('StandardOutput=append:/srv/100%%/run/myapp-%i.log');
  });

  it('rounds STOP_TIMEOUT up to whole seconds, never killing sooner than promised', () => {
    expect(directives(renderUnit(template, { ...base, stopTimeoutMs: 1500 }))).toContain('TimeoutStopSec=2');
    expect(directives(renderUnit(template, { ...base, stopTimeoutMs: 500 }))).toContain('TimeoutStopSec=1');
  });

  it('drops User= for a user-level systemd, which cannot switch users', () => {
    const unit = renderUnit(template, { ...base, user: undefined, scope: 'user' });
    expect(directives(unit).filter((line) => line.startsWith('User'))).toEqual([]);
    expect(directives(unit)).toHaveLength(directives(renderUnit(template, base)).length - 1);
  });

  it('refuses what would break or change the unit', () => {
    expect(() => renderUnit(template, { ...base, startCmd: 'npm start\nrm -rf /' })).toThrow(/newline or control character/);
    expect(() => renderUnit(template, { ...base, startCmd: 'npm\rstart' })).toThrow(/newline or control character/);
    expect(() => renderUnit(template, { ...base, startCmd: '  ' })).toThrow(/START_CMD is empty/);
    expect(() => renderUnit(template, { ...base, deployRoot: 'srv/myapp' })).toThrow(/absolute path/);
    expect(() => renderUnit(template, { ...base, deployRoot: '/srv/my\napp' })).toThrow(/absolute path/);
    expect(() => renderUnit(template, { ...base, user: undefined })).toThrow(/needs the user/);
    expect(() => renderUnit(template, { ...base, user: 'root; rm' })).toThrow(/needs the user/);
    expect(() => renderUnit(template, { ...base, stopTimeoutMs: 0 })).toThrow(/STOP_TIMEOUT/);
    expect(() => renderUnit(`${template}X={{NEW}}\n`, base)).toThrow(/unknown placeholder \{\{NEW\}\}/);
  });

  it('errors are one line saying what was left untouched and what to do', () => {
    try {
      renderUnit(template, { ...base, startCmd: 'a\nb' });
      expect.unreachable();
    } catch (error) {
      expect((error as SwitchyardError).line).toBe('"a\\nb" cannot be an ExecStart= argument: it holds a newline or control character; nothing was written or started; put multi-line logic in a script in the app and start that');
    }
  });

  it('matches the manual sed steps in templates/systemd/README.md', async () => {
    const readme = readFileSync(path.join(path.dirname(UNIT_TEMPLATE_FILE), 'README.md'), 'utf8');
    expect(readme).toContain(`-e 's|{{START_CMD}}|"npm start"|'`);
    const { stdout } = await execa('sed', [
      '-e', 's|{{APP_NAME}}|myapp|g', '-e', 's|{{DEPLOY_ROOT}}|/srv/myapp|g', '-e', 's|{{USER}}|deploy|g',
      '-e', 's|{{STOP_TIMEOUT_SEC}}|30|g', '-e', 's|{{START_CMD}}|"npm start"|', UNIT_TEMPLATE_FILE,
    ], { stripFinalNewline: false });
    expect(stdout).toBe(renderUnit(template, base));
  });
});

describe('quoting helpers', () => {
  it('quoteExecArgument keeps plain text and wraps it in double quotes', () => {
    expect(quoteExecArgument('npm start')).toBe('"npm start"');
    expect(quoteExecArgument('echo $HOME %h "x" \\')).toBe('"echo $$HOME %%h \\"x\\" \\\\"');
    expect(quoteExecArgument('a\tb')).toBe('"a\tb"');
  });

  it('escapeSpecifiers doubles every %', () => {
    expect(escapeSpecifiers('/srv/%i/%%')).toBe('/srv/%%i/%%%%');
  });
});

describe('renderSlotEnv', () => {
  it('writes PORT, HOST and SWITCHYARD_SLOT', () => {
    expect(renderSlotEnv({ port: 3001, host: '127.0.0.1', slot: 'a' })).toBe(
      '# Written by Switchyard before slot a starts; edits are overwritten.\nPORT=3001\nHOST=127.0.0.1\nSWITCHYARD_SLOT=a\n',
    );
    expect(renderSlotEnv({ port: 3002, host: '::1', slot: 'b' })).toBe(
      '# Written by Switchyard before slot b starts; edits are overwritten.\nPORT=3002\nHOST=::1\nSWITCHYARD_SLOT=b\n',
    );
  });

  it("puts the app's environment first, double-quoted with systemd's escapes; PORT, HOST and SWITCHYARD_SLOT always win", () => {
    const text = renderSlotEnv({ port: 3001, host: '127.0.0.1', slot: 'a', env: { PATH: '/usr/bin:/bin', NOTE: 'a "quoted" $HOME \\ `x`', PORT: '9', HOST: 'evil' } });
    expect(text).toBe(
      '# Written by Switchyard before slot a starts; edits are overwritten.\nPATH="/usr/bin:/bin"\nNOTE="a \\"quoted\\" \\$HOME \\\\ \\`x\\`"\nPORT=3001\nHOST=127.0.0.1\nSWITCHYARD_SLOT=a\n',
    );
    expect(() => renderSlotEnv({ port: 3001, host: '127.0.0.1', slot: 'a', env: { NOTE: 'two\nlines' } })).toThrow(/NOTE holds a newline/);
    expect(() => renderSlotEnv({ port: 3001, host: '127.0.0.1', slot: 'a', env: { 'BAD-NAME': 'x' } })).toThrow(/cannot be a systemd environment variable name/);
  });

  it('refuses values that would inject lines into the env file', () => {
    expect(() => renderSlotEnv({ port: 3001, host: '127.0.0.1\nPATH=/tmp', slot: 'a' })).toThrow(/HOST must be/);
    expect(() => renderSlotEnv({ port: 0, host: '127.0.0.1', slot: 'a' })).toThrow(/port must be/);
    expect(() => renderSlotEnv({ port: 3001.5, host: '127.0.0.1', slot: 'a' })).toThrow(/port must be/);
    expect(() => renderSlotEnv({ port: 3001, host: '127.0.0.1', slot: 'x' as 'a' })).toThrow(/slot must be/);
  });
});

describe('systemctlArgv', () => {
  const unit = 'myapp@a.service';

  it('changes state through sudo -n, exactly as the sudoers rule in the README lists it', () => {
    expect(systemctlArgv.start(unit)).toEqual(['sudo', '-n', 'systemctl', 'start', 'myapp@a.service']);
    expect(systemctlArgv.stop(unit)).toEqual(['sudo', '-n', 'systemctl', 'stop', 'myapp@a.service']);
    expect(systemctlArgv.daemonReload()).toEqual(['sudo', '-n', 'systemctl', 'daemon-reload']);
  });

  it('reads state without sudo', () => {
    expect(systemctlArgv.isActive(unit)).toEqual(['systemctl', 'is-active', 'myapp@a.service']);
    expect(systemctlArgv.mainPid(unit)).toEqual(['systemctl', 'show', '-p', 'MainPID', '--value', 'myapp@a.service']);
  });

  it('uses the deploy user\'s own systemd with --user and no sudo', () => {
    const user = { scope: 'user' } as const;
    expect(systemctlArgv.start(unit, user)).toEqual(['systemctl', '--user', 'start', 'myapp@a.service']);
    expect(systemctlArgv.stop(unit, user)).toEqual(['systemctl', '--user', 'stop', 'myapp@a.service']);
    expect(systemctlArgv.daemonReload(user)).toEqual(['systemctl', '--user', 'daemon-reload']);
    expect(systemctlArgv.isActive(unit, user)).toEqual(['systemctl', '--user', 'is-active', 'myapp@a.service']);
    expect(systemctlArgv.mainPid(unit, user)).toEqual(['systemctl', '--user', 'show', '-p', 'MainPID', '--value', 'myapp@a.service']);
  });

  it('the README sudoers rule lists exactly the privileged argv', () => {
    const readme = readFileSync(path.join(path.dirname(UNIT_TEMPLATE_FILE), 'README.md'), 'utf8');
    const rules = ['a', 'b'].flatMap((slot) => ['start', 'stop'].map((verb) => `/usr/bin/${[...systemctlArgv[verb as 'start'](`myapp@${slot}.service`)].slice(2).join(' ')}`));
    for (const rule of rules) expect(readme).toContain(rule);
  });

  it('parseMainPid: 0 and junk mean no process', () => {
    expect(parseMainPid('1234\n')).toBe(1234);
    expect(parseMainPid('0\n')).toBeUndefined();
    expect(parseMainPid('')).toBeUndefined();
    expect(parseMainPid('n/a')).toBeUndefined();
  });
});

// Checked once, before the suite is collected, so a missing tool shows up as a skipped test with its reason.
const systemdAnalyze = await execa('systemd-analyze', ['--version'], { reject: false });
const noSystemdAnalyze = systemdAnalyze.exitCode === 0 ? undefined : `systemd-analyze is not installed (${(systemdAnalyze.shortMessage ?? `exit ${systemdAnalyze.exitCode}`).split('\n')[0]}): apt-get install -y systemd to verify the rendered unit`;
if (noSystemdAnalyze) console.warn(`SKIPPED systemd-analyze verify: ${noSystemdAnalyze}`);

describe('systemd-analyze verify', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-systemd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(noSystemdAnalyze !== undefined)(`accepts the rendered unit without warnings${noSystemdAnalyze ? ` (SKIPPED: ${noSystemdAnalyze})` : ''}`, async () => {
    const tricky = { ...base, user: os.userInfo().username, deployRoot: path.join(dir, 'root 100%'), startCmd: `echo "$PORT" 'x' \\q 50% && exec node server.js` };
    for (const [name, options] of [['myapp@.service', base], ['tricky@.service', tricky]] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, renderUnit(template, options));
      const result = await execa('systemd-analyze', ['verify', file], { reject: false, all: true });
      // verify exits 0 on mere warnings (e.g. "Ignoring unknown escape sequences"): any output is a failure too.
      expect({ exitCode: result.exitCode, output: result.all }, name).toEqual({ exitCode: 0, output: '' });
    }
  });
});
