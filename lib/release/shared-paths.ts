import { closeSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Config, SharedPath } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { nearestExisting } from '../host/files.ts';

/**
 * SHARED_PATHS: files and folders that outlive a build (`.env`, `uploads/`). Each lives under
 * DEPLOY_ROOT/shared/ and each new build gets a symlink to it, made before install so install,
 * build, hooks and the app all see it. A path the commit itself holds is refused, never overwritten.
 */

export function sharedRoot(config: Config): string {
  return path.join(config.deployRoot, 'shared');
}

/** Where one shared path lives and where its link goes. Pure. */
export function sharedLocation(config: Config, buildDir: string, entry: SharedPath): { source: string; link: string } {
  return { source: path.join(sharedRoot(config), entry.path), link: path.join(buildDir, entry.path) };
}

/** The paths of `entries` that already exist in the build (the commit holds them), except links Switchyard made. */
export function findCommittedSharedPaths(config: Config, buildDir: string, entries: readonly SharedPath[] = config.sharedPaths): string[] {
  const clashes: string[] = [];
  for (const entry of entries) {
    const { source, link } = sharedLocation(config, buildDir, entry);
    let stat;
    try {
      stat = lstatSync(link);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink() && readlinkSync(link) === source) continue;
    clashes.push(entry.dir ? `${entry.path}/` : entry.path);
  }
  return clashes;
}


/**
 * Link every SHARED_PATHS entry into `buildDir` (a fresh checkout), creating the shared folder or an
 * empty 0600 file the first time. Checks every entry before linking any. Returns what it did, one
 * line each. Call after checkout, before install.
 */
export function linkSharedPaths(config: Config, buildDir: string): string[] {
  if (config.sharedPaths.length === 0) return [];
  const committed = findCommittedSharedPaths(config, buildDir);
  if (committed.length > 0) {
    throw new SwitchyardError(`SHARED_PATHS ${committed.map((entry) => JSON.stringify(entry)).join(', ')} ${committed.length === 1 ? 'exists' : 'exist'} in the commit itself (${path.join(buildDir, committed[0].replace(/\/$/, ''))}), so it cannot be linked to ${sharedRoot(config)}`, {
      untouched: 'the live slot and the shared files were not changed',
      next: `stop committing it (git rm -r --cached ${committed.map((entry) => entry.replace(/\/$/, '')).join(' ')}, add it to .gitignore) or remove it from SHARED_PATHS`,
    });
  }
  const buildReal = realpathSync(buildDir);
  const problems: string[] = [];
  for (const entry of config.sharedPaths) {
    const { source } = sharedLocation(config, buildDir, entry);
    try {
      const stat = statSync(source);
      if (entry.dir !== stat.isDirectory()) problems.push(`${source} is ${stat.isDirectory() ? 'a folder' : 'not a folder'} but SHARED_PATHS lists ${entry.dir ? `${entry.path}/ (a folder)` : `${entry.path} (a file; add / for a folder)`}`);
    } catch {
      // Created below.
    }
    // The nearest folder that exists on the way (the rest is made below it): a committed symlink at any depth above must not lead outside.
    const parent = path.dirname(path.join(buildDir, entry.path));
    const existing = nearestExisting(parent, buildDir);
    let real: string;
    try {
      real = realpathSync(existing);
    } catch {
      problems.push(`the folder of ${entry.path} in the build (${existing}) is a link that leads nowhere`);
      continue;
    }
    if (real !== buildReal && !real.startsWith(`${buildReal}/`)) problems.push(`the folder of ${entry.path} in the build (${existing}) leads outside it, to ${real}`);
  }
  if (problems.length > 0) {
    throw new SwitchyardError(`SHARED_PATHS cannot be linked: ${problems.join('; ')}`, {
      untouched: 'the live slot and the shared files were not changed',
      next: 'fix the shared path or SHARED_PATHS',
      details: problems,
    });
  }
  const done: string[] = [];
  mkdirSync(sharedRoot(config), { recursive: true, mode: 0o700 });
  for (const entry of config.sharedPaths) {
    const { source, link } = sharedLocation(config, buildDir, entry);
    mkdirSync(path.dirname(source), { recursive: true, mode: 0o700 });
    let created = false;
    if (entry.dir) {
      created = mkdirSync(source, { recursive: true, mode: 0o700 }) !== undefined;
    } else {
      try {
        closeSync(openSync(source, 'wx', 0o600));
        created = true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    mkdirSync(path.dirname(link), { recursive: true });
    try {
      symlinkSync(source, link, entry.dir ? 'dir' : 'file');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // our own link, from an earlier call
    }
    done.push(`${entry.dir ? `${entry.path}/` : entry.path} → ${source}${created ? ' (created empty)' : ''}`);
  }
  return done;
}
