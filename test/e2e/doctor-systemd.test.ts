import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { createDeployUser, requirePrograms, type DeployUser } from '../../harness/sshd.ts';
import { sudoSystemctlCommands, systemdSudoersLine, unitProblem } from '../../lib/setup/doctor/systemd.ts';
import { renderUnit, UNIT_TEMPLATE_FILE } from '../../lib/slot/systemd.ts';

describe('doctor with PROCESS_MANAGER=systemd (pure)', () => {
  it('asks sudo for exactly the systemctl commands a deploy runs, and prints the line that allows them', () => {
    expect(sudoSystemctlCommands('shop')).toEqual([
      ['sudo', '-n', 'systemctl', 'start', 'shop@a.service'], ['sudo', '-n', 'systemctl', 'stop', 'shop@a.service'],
      ['sudo', '-n', 'systemctl', 'start', 'shop@b.service'], ['sudo', '-n', 'systemctl', 'stop', 'shop@b.service'],
    ]);
    expect(systemdSudoersLine('deploy', 'shop')).toBe('deploy ALL=(root) NOPASSWD: /usr/bin/systemctl start shop@a.service, /usr/bin/systemctl stop shop@a.service, /usr/bin/systemctl start shop@b.service, /usr/bin/systemctl stop shop@b.service');
  });

  it('accepts the unit rendered for this DEPLOY_ROOT; names one of another DEPLOY_ROOT, or a user unit with User=', () => {
    const template = readFileSync(UNIT_TEMPLATE_FILE, 'utf8');
    const unit = renderUnit(template, { appName: 'shop', deployRoot: '/srv/100%/shop/', startCmd: 'npm start', stopTimeoutMs: 30_000, user: 'deploy' });
    expect(unitProblem(unit, { appName: 'shop', deployRoot: '/srv/100%/shop', systemdScope: 'system' })).toBeUndefined();
    expect(unitProblem(unit, { appName: 'shop', deployRoot: '/srv/other', systemdScope: 'system' })).toBe("it does not read this DEPLOY_ROOT's slot environment (EnvironmentFile=/srv/other/run/shop-%i.env)");
    expect(unitProblem(unit, { appName: 'shop', deployRoot: '/srv/100%/shop', systemdScope: 'user' })).toMatch(/User= line/);
  });
});

/** doctor run by a real deploy user (useradd), against the real sudo and the real /etc/systemd/system. */
describe('doctor checks the slot unit and its sudo rule, as the deploy user', () => {
  const tag = String(process.pid % 100000);
  const appName = `sydoc${tag}`;
  const unitFile = `/etc/systemd/system/${appName}@.service`;
  const sudoersFile = `/etc/sudoers.d/sydoc-${tag}`;
  let dir: string;
  let user: DeployUser;
  let envFile: string;
  const doctor = async () => {
    const result = await execa('runuser', ['-u', user.name, '--', 'env', '-i', `HOME=${user.home}`, 'PATH=/usr/local/bin:/usr/bin:/bin', 'NO_COLOR=1', `DEPLOY_ENV_FILE=${envFile}`, DEPLOY_TS, 'doctor', '--json'], { reject: false, all: true, timeout: 60_000 });
    const checks: Array<{ title: string; ok: boolean; detail: string; fix?: string }> = JSON.parse(result.stdout).checks;
    return { unit: checks.find((check) => check.title === 'systemd unit'), sudo: checks.find((check) => check.title === 'systemd sudo'), output: result.all ?? '' };
  };

  beforeAll(() => {
    requirePrograms();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-doctor-systemd-'));
    chmodSync(dir, 0o755);
    user = createDeployUser(`sydoc${tag}`);
    const example = createExampleRepo(path.join(dir, 'repo'));
    envFile = path.join(dir, 'switchyard.env');
    writeFileSync(envFile, `APP_NAME=${appName}\nREPO=${example.repo}\nDEPLOY_ROOT=${path.join(dir, 'root')}\nSWITCH=none\nPROCESS_MANAGER=systemd\n`, { mode: 0o644 });
  });

  afterAll(() => {
    rmSync(unitFile, { force: true });
    rmSync(sudoersFile, { force: true });
    user?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails without the unit and the sudo rule, naming the fix; passes once root installed both', async () => {
    const before = await doctor();
    expect(before.unit, before.output).toMatchObject({ ok: false, detail: expect.stringContaining(`no unit ${appName}@.service is installed (looked in /etc/systemd/system,`) });
    expect(before.unit?.fix).toMatch(/^as root, once: render templates\/systemd\/APP@\.service into \/etc\/systemd\/system\//);
    expect(before.sudo, before.output).toMatchObject({ ok: false, detail: `sudo asks ${user.name} for a password for \`sudo -n systemctl start ${appName}@a.service\`, \`sudo -n systemctl stop ${appName}@a.service\`, \`sudo -n systemctl start ${appName}@b.service\`, \`sudo -n systemctl stop ${appName}@b.service\`, so a deploy could not start or stop a slot` });
    const line = /echo '([^']+)'/.exec(before.sudo?.fix ?? '')?.[1];
    expect(line).toBe(systemdSudoersLine(user.name, appName));

    // What root does once (templates/systemd/README.md): the unit for this DEPLOY_ROOT, and exactly the printed rule.
    writeFileSync(unitFile, renderUnit(readFileSync(UNIT_TEMPLATE_FILE, 'utf8'), { appName, deployRoot: path.join(dir, 'root'), startCmd: 'npm start', stopTimeoutMs: 15_000, user: user.name }), { mode: 0o644 });
    writeFileSync(sudoersFile, `${line}\n`, { mode: 0o440 });
    execFileSync('visudo', ['-cf', sudoersFile]);
    const after = await doctor();
    expect(after.unit, after.output).toMatchObject({ ok: true, detail: `${unitFile} is installed for DEPLOY_ROOT ${path.join(dir, 'root')}` });
    expect(after.sudo, after.output).toMatchObject({ ok: true, detail: `${user.name} may start and stop ${appName}@a and @b without a password (sudo -n -l)` });

    // A unit left from another DEPLOY_ROOT is named, not passed.
    writeFileSync(unitFile, renderUnit(readFileSync(UNIT_TEMPLATE_FILE, 'utf8'), { appName, deployRoot: '/srv/elsewhere', startCmd: 'npm start', stopTimeoutMs: 15_000, user: user.name }));
    const stale = await doctor();
    expect(stale.unit, stale.output).toMatchObject({ ok: false, detail: `${unitFile} is not the unit for this configuration: it does not read this DEPLOY_ROOT's slot environment (EnvironmentFile=${path.join(dir, 'root')}/run/${appName}-%i.env)` });
  }, 120_000);
});
