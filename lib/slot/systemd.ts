import path from 'node:path';
import type { SystemdScope } from '../host/commands/systemctl.ts';
import { templateFile } from '../project-dir.ts';
import type { SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';

/**
 * PROCESS_MANAGER=systemd, the pure half: the slot unit's text, the per-slot env file, and the exact
 * systemctl argv (run through lib/host/run.ts by the caller; sudoers matches these strings exactly).
 */

export const UNIT_TEMPLATE_FILE = templateFile('systemd', 'APP@.service');

/** 'system': units in /etc/systemd/system, changed through `sudo -n`; 'user': the deploy user's own systemd (`systemctl --user`). */

export type UnitOptions = {
  appName: string;
  /** Absolute. */
  deployRoot: string;
  startCmd: string;
  stopTimeoutMs: number;
  /** The account the app runs as; a user-level systemd runs units as its own user, so it takes none. */
  user?: string;
  scope?: SystemdScope;
};

const APP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
const HOST_PATTERN = /^[A-Za-z0-9.:_-]+$/;
// Tab is harmless inside systemd quotes; every other control character (newline above all) would end or corrupt the line.
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;

const invalid = (message: string, next: string) => new SwitchyardError(message, { untouched: 'nothing was written or started', next });

export function unitName(appName: string, slot: SlotName): string {
  checkAppName(appName);
  checkSlot(slot);
  return `${appName}@${slot}.service`;
}

/** Where Switchyard writes the slot's PORT/HOST/SWITCHYARD_SLOT; the unit's EnvironmentFile= names the same path. */
export function slotEnvFile(deployRoot: string, appName: string, slot: SlotName): string {
  return path.join(deployRoot, 'run', `${appName}-${slot}.env`);
}

/** A specifier-safe path or name: systemd expands `%x` in WorkingDirectory=, EnvironmentFile= and StandardOutput=. */
export function escapeSpecifiers(value: string): string {
  return value.replace(/%/g, '%%');
}

/**
 * One ExecStart= argument holding `value` verbatim. systemd parses ExecStart= itself: backslash
 * escapes apply even inside quotes (unlike sh), `%` starts a specifier and `$` an environment
 * variable, so each is escaped, and the result is double-quoted so spaces stay in one argument.
 */
export function quoteExecArgument(value: string): string {
  if (CONTROL.test(value)) {
    throw invalid(`${JSON.stringify(value)} cannot be an ExecStart= argument: it holds a newline or control character`, 'put multi-line logic in a script in the app and start that');
  }
  const escaped = value.replace(/[\\"%$]/g, (char) => ({ '\\': '\\\\', '"': '\\"', '%': '%%', $: '$$' })[char] as string);
  return `"${escaped}"`;
}

/** The slot unit: the template with every placeholder replaced. Pure; the caller reads UNIT_TEMPLATE_FILE. */
export function renderUnit(template: string, options: UnitOptions): string {
  const scope = options.scope ?? 'system';
  checkAppName(options.appName);
  if (!path.isAbsolute(options.deployRoot) || CONTROL.test(options.deployRoot) || options.deployRoot.includes('\\')) {
    throw invalid(`DEPLOY_ROOT ${JSON.stringify(options.deployRoot)} cannot be used in a unit: it must be an absolute path without control characters or backslashes`, 'use a plain absolute DEPLOY_ROOT such as /srv/myapp');
  }
  if (options.startCmd.trim() === '') throw invalid('START_CMD is empty: a systemd slot needs a command to start', 'set START_CMD (default: npm start)');
  if (!(options.stopTimeoutMs > 0 && Number.isFinite(options.stopTimeoutMs))) throw invalid(`STOP_TIMEOUT must be a positive duration; got ${options.stopTimeoutMs}ms`, 'set STOP_TIMEOUT such as 30s');
  if (scope === 'system' && (options.user === undefined || !USER_PATTERN.test(options.user))) {
    throw invalid(`a system unit needs the user the app runs as; got ${JSON.stringify(options.user ?? null)}`, 'pass the deploy user (letters, digits, _ . -), or use a user-level systemd');
  }
  const values: Record<string, string> = {
    '{{APP_NAME}}': options.appName,
    '{{DEPLOY_ROOT}}': escapeSpecifiers(path.normalize(options.deployRoot).replace(/(.)\/$/, '$1')),
    '{{START_CMD}}': quoteExecArgument(options.startCmd),
    // Rounded up: the unit must never SIGKILL sooner than STOP_TIMEOUT promises.
    '{{STOP_TIMEOUT_SEC}}': String(Math.ceil(options.stopTimeoutMs / 1000)),
    '{{USER}}': options.user ?? '',
  };
  let text = template;
  // A user manager cannot switch users: User= there makes every start fail.
  if (scope === 'user') text = text.replace(/^User=\{\{USER\}\}\n/m, '');
  for (const [placeholder, value] of Object.entries(values)) text = text.split(placeholder).join(value);
  const left = /\{\{[A-Z_]+\}\}/.exec(text);
  if (left) throw invalid(`the unit template has an unknown placeholder ${left[0]}`, 'restore templates/systemd/APP@.service from git');
  return text;
}

/**
 * The EnvironmentFile= of one slot: the app's environment (`env`, each value double-quoted with
 * systemd's escapes), then PORT, HOST and SWITCHYARD_SLOT, which always win. Pure.
 */
export function renderSlotEnv(options: { port: number; host: string; slot: SlotName; env?: Record<string, string | undefined> }): string {
  if (!(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535)) throw invalid(`slot port must be 1-65535; got ${options.port}`, 'fix PORT_A/PORT_B');
  if (!HOST_PATTERN.test(options.host)) throw invalid(`HOST must be an address or host name; got ${JSON.stringify(options.host)}`, 'fix HOST');
  checkSlot(options.slot);
  const appLines: string[] = [];
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined || ['PORT', 'HOST', 'SWITCHYARD_SLOT'].includes(key)) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw invalid(`${JSON.stringify(key)} cannot be a systemd environment variable name`, 'rename it in APP_ENV_FILE (letters, digits, _)');
    if (/[\0-\x08\x0a-\x1f\x7f]/.test(value)) throw invalid(`the value of ${key} holds a newline or control character, which a systemd EnvironmentFile= cannot carry`, 'put it on one line in APP_ENV_FILE');
    appLines.push(`${key}="${value.replace(/[\\"`$]/g, (char) => `\\${char}`)}"`);
  }
  return [
    `# Written by Switchyard before slot ${options.slot} starts; edits are overwritten.`,
    ...appLines,
    `PORT=${options.port}`,
    `HOST=${options.host}`,
    `SWITCHYARD_SLOT=${options.slot}`,
    '',
  ].join('\n');
}

/** `systemctl show -p MainPID --value` prints 0 when nothing runs. */
export function parseMainPid(output: string): number | undefined {
  const text = output.trim();
  if (!/^\d+$/.test(text)) return undefined;
  const pid = Number(text);
  return pid > 0 ? pid : undefined;
}

function checkAppName(appName: string): void {
  if (!APP_NAME_PATTERN.test(appName)) throw invalid(`APP_NAME ${JSON.stringify(appName)} cannot name a systemd unit`, "use letters, digits, '.', '_' or '-'");
}

function checkSlot(slot: string): void {
  if (slot !== 'a' && slot !== 'b') throw invalid(`slot must be a or b; got ${JSON.stringify(slot)}`, 'pass a or b');
}
