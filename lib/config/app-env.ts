import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { SECRET_KEY_PATTERN, type Config } from './config.ts';
import { SwitchyardError } from '../errors.ts';
import { endpointEnvironment, type Endpoint } from '../slot/endpoints.ts';
import { writeFileAtomic } from '../host/files.ts';
import { urlSecrets } from './redact.ts';
import { FileLockError, withFileLock } from '../host/file-lock.ts';

/**
 * The app's environment: APP_ENV_FILE's variables plus the few the deploying shell may pass (PATH,
 * HOME, LANG, LC_*), so an app deployed over SSH, from a git hook or from a full login shell gets
 * exactly the same. The process managers add PORT, HOST and SWITCHYARD_SLOT on top.
 */

/** Passed through from whoever runs Switchyard; everything else stays out of the app. */
export const PASSED_THROUGH = ['PATH', 'HOME', 'LANG'] as const;
const PASSED_PREFIX = 'LC_';
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Set by Switchyard per slot: never taken from APP_ENV_FILE. */
export const RESERVED_KEYS = ['PORT', 'HOST', 'SWITCHYARD_SLOT', 'SWITCHYARD_SOCKET', 'SWITCHYARD_INSTANCE'];
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The environment for the app, INSTALL_CMD/BUILD_CMD and hooks. APP_ENV_FILE wins over the caller (it may set PATH). Pure. */
export function appEnvironment(callerEnv: Record<string, string | undefined>, fileValues: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(callerEnv)) {
    if (value !== undefined && ((PASSED_THROUGH as readonly string[]).includes(key) || key.startsWith(PASSED_PREFIX))) env[key] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  for (const [key, value] of Object.entries(fileValues)) if (!RESERVED_KEYS.includes(key)) env[key] = value;
  return env;
}

/** What one instance of a slot's app runs with: the app environment plus Switchyard's PORT (a port or a socket's path), HOST, SWITCHYARD_SLOT, SWITCHYARD_INSTANCE and, for a socket, SWITCHYARD_SOCKET. Pure. */
export function slotEnvironment(
  env: Record<string, string | undefined>,
  slot: { endpoint: Endpoint; host: string; slot: string },
): Record<string, string | undefined> {
  return { ...env, ...endpointEnvironment(slot.endpoint), HOST: slot.host, SWITCHYARD_SLOT: slot.slot };
}

/** A name the shell, systemd and dotenv all accept, and not one Switchyard sets itself; the problem, or undefined. Pure. */
export function validateEnvKey(key: string): string | undefined {
  if (!KEY_PATTERN.test(key)) return `${JSON.stringify(key)} is not a variable name (letters, digits and _, not starting with a digit)`;
  if (RESERVED_KEYS.includes(key)) return `${key} is set by Switchyard for each slot and cannot be set in APP_ENV_FILE`;
  return undefined;
}

/** Parse dotenv text (the syntax of .env files; `export` prefixes and quotes allowed). Pure. */
export function parseAppEnv(text: string): Record<string, string> {
  return parseDotenv(text);
}

/** dotenv text holding exactly `values`, each value quoted so dotenv reads it back unchanged. Pure. */
export function renderAppEnv(values: Record<string, string>, header = '# The app\'s environment (APP_ENV_FILE). Edit with ./deploy.ts env set KEY=VALUE / env unset KEY.'): string {
  const lines = [header];
  for (const [key, value] of Object.entries(values)) lines.push(`${key}=${quoteDotenv(key, value)}`);
  return `${lines.join('\n')}\n`;
}

function quoteDotenv(key: string, value: string): string {
  // dotenv has no escapes for quotes: pick a quote the value does not hold. Inside double quotes it turns \n into a newline.
  if (!value.includes('\n') && !value.includes('\r')) {
    if (!value.includes("'")) return `'${value}'`;
    if (!value.includes('"') && !value.includes('\\n')) return `"${value}"`;
    if (!value.includes('`')) return `\`${value}\``;
  } else if (!value.includes('"') && !value.includes('\\n') && !value.includes('\r')) {
    return `"${value.replace(/\n/g, '\\n')}"`;
  }
  throw new SwitchyardError(`the value of ${key} cannot be written to a dotenv file: it holds every kind of quote, or a newline together with a quote or \\n`, {
    untouched: 'APP_ENV_FILE was not changed',
    next: 'simplify the value, or edit APP_ENV_FILE by hand',
  });
}

/** Create APP_ENV_FILE (0600, its folder 0700) when it does not exist; never touches an existing one. */
export function ensureAppEnvFile(config: Config): void {
  if (existsSync(config.appEnvFile)) return;
  try {
    mkdirSync(path.dirname(config.appEnvFile), { recursive: true, mode: 0o700 });
    writeFileSync(config.appEnvFile, renderAppEnv({}), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new SwitchyardError(`APP_ENV_FILE ${config.appEnvFile} cannot be created (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      untouched: 'nothing was changed',
      next: `create it for the deploy user (install -m 600 /dev/null ${config.appEnvFile}) or point APP_ENV_FILE elsewhere`,
    });
  }
}

/** APP_ENV_FILE's variables; a missing file is empty. */
export function readAppEnvFile(config: Config): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(config.appEnvFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: DEPLOY_ROOT is not a folder at all; the command says so when it prepares it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return {};
    throw new SwitchyardError(`APP_ENV_FILE ${config.appEnvFile} cannot be read (${code})`, {
      untouched: 'nothing was changed',
      next: `make it readable by the deploy user: chown $(id -un) ${config.appEnvFile} && chmod 600 ${config.appEnvFile}`,
    });
  }
  return parseAppEnv(text);
}

/** The app's environment for this command: the file is created when missing, then read. */
export function loadAppEnvironment(config: Config, callerEnv: Record<string, string | undefined>): Record<string, string> {
  // Read only: the file is created by the command once DEPLOY_ROOT is known to be usable (prepareDeployRoot).
  return appEnvironment(callerEnv, readAppEnvFile(config));
}

/** `KEY=VALUE` arguments of `env set` → pairs; every bad one named at once. Pure. */
export function parseAssignments(args: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (const arg of args) {
    const equals = arg.indexOf('=');
    if (equals <= 0) {
      problems.push(`${JSON.stringify(arg)} is not KEY=VALUE`);
      continue;
    }
    const key = arg.slice(0, equals);
    const problem = validateEnvKey(key);
    if (problem) problems.push(problem);
    else values[key] = arg.slice(equals + 1);
  }
  if (problems.length > 0) throw new SwitchyardError(`env set refused: ${problems.join('; ')}`, { untouched: 'APP_ENV_FILE was not changed', next: 'pass KEY=VALUE pairs, e.g. ./deploy.ts env set DATABASE_URL=postgres://...', exitCode: 2 });
  return values;
}

/** Set and unset variables in APP_ENV_FILE in one atomic write (mode 0600); returns the keys that really changed. */
export function editAppEnvFile(config: Config, changes: { set?: Record<string, string>; unset?: string[] }): string[] {
  ensureAppEnvFile(config);
  try {
    // Locked: two edits at once would each write what it read, and one of them would lose the other's key.
    return withFileLock(config.appEnvFile, () => {
      const current = readAppEnvFile(config);
      const next = { ...current, ...changes.set };
      for (const key of changes.unset ?? []) delete next[key];
      const changed = [...new Set([...Object.keys(current), ...Object.keys(next)])].filter((key) => current[key] !== next[key]);
      if (changed.length > 0) writeThroughLink(config.appEnvFile, renderAppEnv(next));
      return changed;
    });
  } catch (error) {
    throw appEnvWriteError(config.appEnvFile, error);
  }
}

/** A failed lock or write as one line: a read-only or full file system is the operator's to fix, not an "unexpected failure". */
function appEnvWriteError(file: string, error: unknown): unknown {
  if (error instanceof SwitchyardError) return error;
  const code = error instanceof FileLockError ? error.code : (error as NodeJS.ErrnoException).code;
  if (!code) return error;
  const what = { EROFS: 'the file system is read-only', ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is used up', EACCES: 'permission denied', EPERM: 'permission denied' }[code] ?? code;
  const next = code === 'EROFS' ? `remount it read-write (or point APP_ENV_FILE at a writable place), then run this again`
    : code.startsWith('held by') ? 'another env set or unset is still running; run this again when it has finished'
    : `fix the cause (${code}), then run this again`;
  return new SwitchyardError(`cannot write APP_ENV_FILE ${file}: ${what}`, { untouched: 'APP_ENV_FILE was not changed', next, cause: error });
}

/**
 * Replace the file `file` is, or points to: a symlinked APP_ENV_FILE (a central secrets file) is
 * edited where it lives, never turned into a copy that the next rotation would not reach. Its mode
 * is kept, less anything for other users.
 */
function writeThroughLink(file: string, content: string): void {
  let target = file;
  let mode = 0o600;
  try {
    target = realpathSync(file);
    mode = (statSync(target).mode & 0o660) | 0o600;
  } catch {
    // Not there yet (ensureAppEnvFile made it) or a dangling link: written at `file`.
  }
  try {
    writeFileAtomic(target, content, mode);
  } catch (error) {
    throw new SwitchyardError(`APP_ENV_FILE ${file}${target !== file ? ` (a link to ${target})` : ''} cannot be replaced: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} in ${path.dirname(target)}`, {
      untouched: `${target} was not changed`,
      next: `let the deploy user write ${path.dirname(target)}, or edit ${target} by hand`,
    });
  }
}

/** Values of secret-named keys (…_TOKEN, …_SECRET, …) and URL passwords in APP_ENV_FILE, so no output prints them; an unreadable file gives none. */
export function appEnvSecrets(config: Config): string[] {
  try {
    const values = readAppEnvFile(config);
    const named = Object.entries(values)
      .filter(([key, value]) => SECRET_KEY_PATTERN.test(key) && value.length >= 4)
      .map(([, value]) => value);
    return [...named, ...urlSecrets(Object.values(values))];
  } catch {
    return [];
  }
}
