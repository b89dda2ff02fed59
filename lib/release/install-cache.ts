import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import type { Release, State } from '../record/state-shape.ts';
import { releaseDir, reuseDependencies } from './release-files.ts';
import { completeReleases } from './releases.ts';
import { shortCommit } from '../record/state-shape.ts';

/**
 * The install cache: a new release whose install key (lockfile, INSTALL_CMD, Node) matches a kept
 * release's gets a copy of its node_modules instead of running INSTALL_CMD. The copy is checked
 * against the manifest npm wrote when it installed the donor (node_modules/.package-lock.json), so a
 * donor damaged by hand (a package folder deleted) makes this deploy install, instead of copying the
 * damage into every release with that lockfile.
 */

export type InstallReuse =
  | { used: true; detail: string }
  | {
      used: false;
      /** Why a donor there was is not used (for the step's line); absent when there was none. */
      why?: string;
    };


/** Kept releases with this install key, newest first: a damaged old one is passed over once a newer install exists. Pure. */
export function installDonors(state: State, key: string, commit: string): Release[] {
  return completeReleases(state)
    .filter((release) => release.installKey === key && release.commit !== commit)
    .sort((x, y) => Date.parse(y.builtAt) - Date.parse(x.builtAt));
}

/**
 * The packages a copied node_modules should hold, as paths under the app folder (`node_modules/ms`):
 * those in the donor's npm manifest, else the app's own `dependencies` (another package manager).
 */
export function expectedPackages(fromDir: string, appDir: string): string[] {
  const manifest = readJson(path.join(fromDir, 'node_modules', '.package-lock.json'));
  if (manifest?.packages && typeof manifest.packages === 'object') {
    return Object.keys(manifest.packages).filter((key) => key.startsWith('node_modules/'));
  }
  const own = readJson(path.join(appDir, 'package.json'));
  return Object.keys(own?.dependencies ?? {}).map((name) => `node_modules/${name}`);
}

/** Which expected packages the copy lacks (no package.json there; a workspace link only has to exist). */
export function missingPackages(appDir: string, expected: readonly string[]): string[] {
  return expected.filter((relative) => {
    const full = path.join(appDir, relative);
    try {
      if (lstatSync(full).isSymbolicLink()) return false;
    } catch {
      return true;
    }
    return !existsSync(path.join(full, 'package.json'));
  });
}

/** Try the install cache for the release in `dir`; the step runs INSTALL_CMD when this returns used: false. */
export async function reuseInstall(
  config: Config,
  state: State,
  commit: string,
  dir: string,
  key: string | undefined,
  signal?: AbortSignal,
): Promise<InstallReuse> {
  if (!key) return { used: false };
  const donor = installDonors(state, key, commit).find((release) => existsSync(releaseDir(config, release.commit)));
  if (!donor) return { used: false };
  const fromDir = releaseDir(config, donor.commit);
  const from = `release ${shortCommit(donor.commit)}`;
  const expected = expectedPackages(fromDir, dir);
  let copied: boolean;
  try {
    copied = await reuseDependencies(fromDir, dir, config.commandEnv, signal);
  } catch (error) {
    rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
    if (signal?.aborted) throw error;
    return { used: false, why: `copying the node_modules of ${from} failed (${String((error as Error).message).split('\n')[0]})` };
  }
  if (!copied) {
    if (expected.length > 0) return { used: false, why: `${from} has the same lockfile but no node_modules` };
    return { used: true, detail: `same lockfile as ${from}: it has no node_modules, nothing to install; ${config.installCmd} not run` };
  }
  const missing = missingPackages(dir, expected);
  if (missing.length > 0) {
    rmSync(path.join(dir, 'node_modules'), { recursive: true, force: true });
    const names = missing.slice(0, 3).map((relative) => relative.replace(/^.*node_modules\//, '')).join(', ');
    return { used: false, why: `the node_modules copied from ${from} lacks ${missing.length} of the ${expected.length} packages its manifest lists (${names}${missing.length > 3 ? ', ...' : ''})` };
  }
  return { used: true, detail: `same lockfile as ${from}: its node_modules copied (copy-on-write where the filesystem can), all ${expected.length} packages checked present; ${config.installCmd} not run` };
}

/** The file's JSON when it is an object (arrays included), else undefined. */
function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
