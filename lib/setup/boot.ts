import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { capture, runCommand } from '../host/run.ts';
import { readProc } from '../host/proc.ts';
import { shellQuote } from '../host/commands/quote.ts';
const ALWAYS = { always: true };
import { systemctlArgv } from '../host/commands/systemctl.ts';
import { crontabArgv } from '../host/commands/crontab.ts';

/**
 * `install-boot`: make the host run `./deploy.ts resume` at boot, as the deploy user, whatever the
 * process manager (the systemd slot units have no [Install]: Switchyard, not boot order, picks the
 * live slot). A systemd unit where systemd is PID 1 (root writes it, once), else a line in the deploy
 * user's crontab (`@reboot`). The pure half renders both; the rest applies them.
 */

export type BootEntry = {
  appName: string;
  /** Absolute path of deploy.ts. */
  deployTs: string;
  /** The user `resume` runs as. */
  user: string;
  /** PATH for `resume` and the app it starts (boot environments have a minimal one): node's folder first. */
  pathValue: string;
  /** DEPLOY_ENV_FILE, when the configuration is not the .env beside deploy.ts. */
  envFile?: string;
  /** Where the crontab variant appends resume's output. */
  logFile: string;
};

const USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;

export function bootUnitName(appName: string): string {
  return `switchyard-resume-${appName}.service`;
}

export function bootUnitPath(appName: string): string {
  return path.join('/etc/systemd/system', bootUnitName(appName));
}

/** The marker that finds our crontab line again (install is idempotent, --remove takes exactly it). */
export function cronMarker(appName: string): string {
  return `# switchyard-resume:${appName}`;
}

/** True when systemd is PID 1 (not a container's init, not sysvinit). */
export function systemdIsInit(comm: string = readProc1Comm()): boolean {
  return comm.trim() === 'systemd';
}

function readProc1Comm(): string {
  return readProc('1/comm') ?? '';
}

/** One systemd word, double-quoted, with systemd's escapes (it reads \, ", % and $ itself). Pure. */
function systemdQuote(value: string): string {
  return `"${value.replace(/[\\"%$]/g, (char) => ({ '\\': '\\\\', '"': '\\"', '%': '%%', $: '$$' })[char] as string)}"`;
}

function check(entry: BootEntry): void {
  const values = [entry.deployTs, entry.pathValue, entry.envFile ?? '', entry.logFile];
  if (values.some((value) => /[\0-\x1f\x7f]/.test(value))) throw new SwitchyardError('a path for the boot entry holds a newline or control character', { untouched: 'nothing was installed', next: 'move Switchyard, DEPLOY_ROOT or the env file to a plain path' });
  if (!USER_PATTERN.test(entry.user)) throw new SwitchyardError(`${JSON.stringify(entry.user)} cannot run a boot entry`, { untouched: 'nothing was installed', next: 'give DEPLOY_ROOT to the deploy user (install-boot as root runs resume as its owner), or run install-boot as the deploy user where there is no systemd' });
}

/** The boot unit: a oneshot that runs `resume` as the deploy user once the network and nginx are up, retrying while nginx starts. Pure. */
export function renderBootUnit(entry: BootEntry): string {
  check(entry);
  return [
    `# Written by ./deploy.ts install-boot; removed by ./deploy.ts install-boot --remove.`,
    '[Unit]',
    `Description=Switchyard: resume the live slot of ${entry.appName} after boot`,
    'Wants=network-online.target',
    'After=network-online.target nginx.service',
    // Restart= below is bounded: 10 tries in 10 minutes (nginx still starting), then it gives up and says so in the journal.
    'StartLimitIntervalSec=600',
    'StartLimitBurst=10',
    '',
    '[Service]',
    'Type=oneshot',
    // The supervisor resume starts must outlive this oneshot: keep the unit active, and never kill it on our account.
    'RemainAfterExit=yes',
    'KillMode=process',
    `User=${entry.user}`,
    `Environment=${systemdQuote(`PATH=${entry.pathValue}`)}`,
    ...(entry.envFile ? [`Environment=${systemdQuote(`DEPLOY_ENV_FILE=${entry.envFile}`)}`] : []),
    `ExecStart=${systemdQuote(entry.deployTs)} resume`,
    'Restart=on-failure',
    'RestartSec=10',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The crontab line: `resume` at boot, up to 6 tries 10 s apart (nginx may still be starting), output appended to a log. Pure. */
export function renderCronLine(entry: BootEntry): string {
  check(entry);
  const env = [`PATH=${shellQuote(entry.pathValue, ALWAYS)}`, ...(entry.envFile ? [`DEPLOY_ENV_FILE=${shellQuote(entry.envFile, ALWAYS)}`] : [])].join(' ');
  return `@reboot for try in 1 2 3 4 5 6; do ${env} ${shellQuote(entry.deployTs, ALWAYS)} resume && break; sleep 10; done >> ${shellQuote(entry.logFile, ALWAYS)} 2>&1 ${cronMarker(entry.appName)}`;
}

/** The crontab with our line added (replacing an older one) or removed. Pure. */
export function editCrontab(current: string, appName: string, line: string | null): string {
  const kept = current.replace(/\n+$/, '').split('\n').filter((existing) => !existing.endsWith(cronMarker(appName)));
  if (kept.length === 1 && kept[0] === '') kept.pop();
  if (line) kept.push(line);
  return kept.length ? `${kept.join('\n')}\n` : '';
}

/** The file `name` would run as, searching `pathValue` like the shell; undefined when it is not there. */
export function findInPath(name: string, pathValue: string): string | undefined {
  return pathValue.split(':').filter(Boolean).map((dir) => path.join(dir, name)).find((file) => existsSync(file));
}

export type BootResult = { how: 'systemd' | 'crontab'; changed: boolean; where: string };

/** Install (or with `remove`, take away) the boot entry. Idempotent: says when nothing changed. */
export async function applyBootEntry(
  entry: BootEntry,
  remove: boolean,
  options: { env: Record<string, string | undefined>; systemd?: boolean; uid?: number; searchPath?: string },
): Promise<BootResult> {
  const systemd = options.systemd ?? systemdIsInit();
  const uid = options.uid ?? process.getuid?.() ?? -1;
  const searchPath = options.searchPath ?? `${entry.pathValue}:/usr/bin:/bin`;
  return systemd ? applyUnit(entry, remove, uid, options.env) : applyCrontab(entry, remove, uid, searchPath, options.env);
}

async function applyUnit(entry: BootEntry, remove: boolean, uid: number, env: Record<string, string | undefined>): Promise<BootResult> {
  const file = bootUnitPath(entry.appName);
  const unit = bootUnitName(entry.appName);
  if (uid !== 0) {
    throw new SwitchyardError(`a boot unit goes in /etc/systemd/system, which needs root`, {
      untouched: 'nothing was installed',
      // The deploy user's sudoers rules (nginx, systemctl start/stop) rightly do not cover this: root does it once.
      next: `as root, once (or from an account with full sudo): sudo ${entry.envFile ? `DEPLOY_ENV_FILE=${shellQuote(entry.envFile)} ` : ''}${entry.deployTs} install-boot${remove ? ' --remove' : ''} (the unit runs resume as DEPLOY_ROOT's owner, ${entry.user})`,
    });
  }
  const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (remove) {
    if (current === undefined) return { how: 'systemd', changed: false, where: file };
    await runCommand(systemctlArgv.disableAsRoot(unit), { env });
    rmSync(file, { force: true });
    await runCommand(systemctlArgv.daemonReloadAsRoot(), { env });
    return { how: 'systemd', changed: true, where: file };
  }
  const text = renderBootUnit(entry);
  if (current === text) return { how: 'systemd', changed: false, where: file };
  writeFileSync(file, text, { mode: 0o644 });
  await runCommand(systemctlArgv.daemonReloadAsRoot(), { env });
  await runCommand(systemctlArgv.enableAsRoot(unit), { env });
  return { how: 'systemd', changed: true, where: file };
}

async function applyCrontab(
  entry: BootEntry,
  remove: boolean,
  uid: number,
  searchPath: string,
  env: Record<string, string | undefined>,
): Promise<BootResult> {
  // As root (sudo), the entry belongs in the deploy user's crontab, not root's.
  const otherUser = uid === 0 && entry.user !== 'root' ? entry.user : undefined;
  const where = `the crontab of ${entry.user}`;
  if (!findInPath('crontab', searchPath)) {
    throw new SwitchyardError('systemd is not PID 1 here and crontab is not installed, so no boot entry can be made', {
      untouched: 'nothing was installed',
      next: "install Debian's cron package (sudo apt-get install -y cron; its daemon starts at boot and runs @reboot lines) and run this again, or run `./deploy.ts resume` from your own init",
    });
  }
  let current: string;
  try {
    current = await capture(crontabArgv.list(otherUser), { env });
  } catch (error) {
    if (!/no crontab for/i.test((error as SwitchyardError).details?.join('\n') ?? '')) throw error;
    current = '';
  }
  const next = editCrontab(current, entry.appName, remove ? null : renderCronLine(entry));
  if (next === editCrontab(current, '\0', null)) return { how: 'crontab', changed: false, where };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-crontab-'));
  try {
    const file = path.join(dir, 'crontab');
    writeFileSync(file, next, { mode: 0o600 });
    await runCommand(crontabArgv.install(file, otherUser), { env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { how: 'crontab', changed: true, where };
}
