import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { nearestExisting } from '../host/files.ts';

/**
 * Refuses, before init creates anything, when one of the paths it will write (the .env, DEPLOY_ROOT) cannot be
 * created or replaced by this user: otherwise init would make the first and fail at the second with a bare EACCES.
 */
export function verifyInitWritable(paths: { what: string; file: string }[], user: string): void {
  for (const { what, file } of paths) {
    // What exists of the path must be writable to create the rest: a folder is written into, a file is
    // replaced by a rename in its folder (as is a dangling link, which stat cannot follow).
    const existing = nearestExisting(path.resolve(file));
    const mustWrite = statSync(existing, { throwIfNoEntry: false })?.isDirectory() ? existing : path.dirname(existing);
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
