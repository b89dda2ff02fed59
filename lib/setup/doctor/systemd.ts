import { existsSync, readFileSync } from 'node:fs';
import { sudoArgv } from '../../host/commands/sudo.ts';
import path from 'node:path';
import { SLOTS, type Config } from '../../config/config.ts';
import { currentUserName } from '../../host/file-owner.ts';
import { probeCommand } from '../../host/run.ts';
import { escapeSpecifiers, unitName } from '../../slot/systemd.ts';
import { systemctlArgv } from '../../host/commands/systemctl.ts';
import { absoluteProgram } from './nginx.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/**
 * PROCESS_MANAGER=systemd: what root installs once (the slot unit, the sudoers rule) is checked here,
 * since a deploy would otherwise fail only at its start step. Nothing is run but `sudo -n -l`.
 */

/** Where systemd looks for a unit of the scope: the system's folders, or the deploy user's own first. Pure. */
export function unitDirs(scope: Config['systemdScope'], home: string | undefined): string[] {
  if (scope === 'user') return [...(home ? [path.join(home, '.config/systemd/user')] : []), '/etc/systemd/user', '/usr/local/lib/systemd/user', '/usr/lib/systemd/user'];
  return ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];
}

/** The systemctl commands a deploy runs through `sudo -n`, word for word as sudoers must allow them. Pure. */
export function sudoSystemctlCommands(appName: string): string[][] {
  return SLOTS.flatMap((slot) => [systemctlArgv.start(unitName(appName, slot)), systemctlArgv.stop(unitName(appName, slot))]);
}

/** The sudoers line that allows exactly those commands. Pure. */
export function systemdSudoersLine(user: string, appName: string, systemctl = '/usr/bin/systemctl'): string {
  const commands = sudoSystemctlCommands(appName).map(([, , , ...rest]) => [systemctl, ...rest].join(' '));
  return `${user} ALL=(root) NOPASSWD: ${commands.join(', ')}`;
}

/** What is wrong with an installed slot unit for this configuration, or undefined. Pure. */
export function unitProblem(text: string, config: Pick<Config, 'appName' | 'deployRoot' | 'systemdScope'>): string | undefined {
  const envFile = `EnvironmentFile=${escapeSpecifiers(path.normalize(config.deployRoot).replace(/(.)\/$/, '$1'))}/run/${config.appName}-%i.env`;
  if (!text.split('\n').some((line) => line.trim() === envFile)) return `it does not read this DEPLOY_ROOT's slot environment (${envFile})`;
  // A user manager cannot switch users: every start that asks it to fails.
  if (config.systemdScope === 'user' && /^\s*User=/m.test(text)) return 'it has a User= line, which a user systemd cannot honour';
  return undefined;
}

export function checkSystemdUnit(ctx: CheckContext): CheckResult {
  const { config } = ctx;
  const name = `${config.appName}@.service`;
  const dirs = unitDirs(config.systemdScope, ctx.env.HOME);
  const file = dirs.map((dir) => path.join(dir, name)).find((candidate) => existsSync(candidate));
  const guide = 'templates/systemd/README.md';
  const install = config.systemdScope === 'user'
    ? `as ${currentUserName()}: render templates/systemd/APP@.service into ~/.config/systemd/user/${name} without the User= line, then systemctl --user daemon-reload (${guide})`
    : `as root, once: render templates/systemd/APP@.service into /etc/systemd/system/${name}, then systemctl daemon-reload (${guide})`;
  if (!file) return fail(`PROCESS_MANAGER=systemd, but no unit ${name} is installed (looked in ${dirs.join(', ')}): a deploy would fail at its start step`, install);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(`${file} cannot be read: ${(error as Error).message}`, `let ${currentUserName()} read it (chmod 644 ${file})`);
  }
  const problem = unitProblem(text, config);
  return problem ? fail(`${file} is not the unit for this configuration: ${problem}`, install) : pass(`${file} is installed for DEPLOY_ROOT ${config.deployRoot}`);
}

/** `sudo -n -l <command>` for each start and stop: allowed without a password, or the exact line that allows them. */
export async function checkSystemdSudo(ctx: CheckContext): Promise<CheckResult> {
  const { config } = ctx;
  if (config.systemdScope === 'user') return pass('SYSTEMD_SCOPE=user: systemctl --user needs no sudo');
  const refused: string[] = [];
  for (const argv of sudoSystemctlCommands(config.appName)) {
    const result = await probeCommand(sudoArgv.list(argv.slice(2)), { env: ctx.env, timeoutMs: 10_000 });
    if (result.exitCode === -1 && /not found|ENOENT/.test(result.error ?? '')) return fail('sudo is not installed, and PROCESS_MANAGER=systemd starts and stops slots with sudo -n systemctl', 'apt-get install -y sudo, then add the sudoers line in templates/systemd/README.md');
    if (result.exitCode !== 0) refused.push(argv.join(' '));
  }
  const user = currentUserName();
  if (refused.length === 0) return pass(`${user} may start and stop ${config.appName}@a and @b without a password (sudo -n -l)`);
  const file = '/etc/sudoers.d/switchyard-systemd';
  return fail(
    `sudo asks ${user} for a password for ${refused.map((command) => `\`${command}\``).join(', ')}, so a deploy could not start or stop a slot`,
    `as root, once: echo '${systemdSudoersLine(user, config.appName, absoluteProgram('systemctl'))}' > ${file} && chmod 440 ${file} && visudo -c`,
  );
}
