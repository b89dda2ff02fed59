import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SECRET_KEY_PATTERN, type Config } from '../config/config.ts';
import { appEnvironment, parseAppEnv, renderAppEnv } from '../config/app-env.ts';
import { urlSecrets } from '../config/redact.ts';
import { SwitchyardError } from '../errors.ts';
import { writeFileAtomic } from './files.ts';
import { FileLockError, withFileLock } from './file-lock.ts';

/** APP_ENV_FILE on disk: created 0600 when missing, read, edited under a lock in one atomic write (the format: lib/config/app-env.ts). */

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
