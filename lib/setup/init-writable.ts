import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { SwitchyardError } from '../errors.ts';

/** The path itself when it exists, else the nearest folder above it that does: what must be writable to create it. */
function nearestExisting(file: string): string {
  let at = path.resolve(file);
  while (!existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  return at;
}

/**
 * Refuses, before init creates anything, when one of the paths it will write (the .env, DEPLOY_ROOT) cannot be
 * created or replaced by this user: otherwise init would make the first and fail at the second with a bare EACCES.
 */
export function verifyInitWritable(paths: { what: string; file: string }[], user: string): void {
  for (const { what, file } of paths) {
    const existing = nearestExisting(file);
    // A file is replaced by a rename in its folder; a folder that exists is written into.
    const mustWrite = statSync(existing).isDirectory() ? existing : path.dirname(existing);
    try {
      accessSync(mustWrite, constants.W_OK | constants.X_OK);
    } catch {
      throw new SwitchyardError(`init cannot write ${what} ${file}: ${mustWrite} is not writable by ${user}`, {
        untouched: 'nothing was created or changed',
        next: `run init as a user who may write there (sudo), or choose another place (${what === 'the configuration' ? '--config FILE or DEPLOY_ENV_FILE' : '--root DIR'})`,
      });
    }
  }
}
