import { lstatSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Config, SlotName } from '../config/config.ts';
import { fileArgv } from '../host/commands/file.ts';
import { runCommand } from '../host/run.ts';
import type { State } from '../record/state-shape.ts';
import type { ColdReason } from './cache-plan.ts';
import { releaseDir } from './release-files.ts';
import { completeReleases } from './releases.ts';
import { shortCommit } from '../record/state-shape.ts';

/**
 * The build cache (BUILD_CACHE_PATHS): folders such as `.next/cache` copied from a kept release into
 * a new one before BUILD_CMD, so a one-line change does not build from nothing. Always a copy
 * (copy-on-write where the filesystem can), never a link: a build writes into its cache, and the
 * release it came from may be the one serving. A cache is only ever a speed-up: a failed copy or a
 * warm build that fails makes the build run cold, never the deploy fail.
 */

export type CacheDonor = { commit: string; why: string };



/**
 * The releases a new build may take its cache from, best first: the one the idle slot last ran (the
 * same slot built it, usually from a close commit), then every other kept release, newest first. Pure.
 */
export function cacheDonorCandidates(state: State, target: SlotName, commit: string): CacheDonor[] {
  const idle = state.slots[target].commit;
  const complete = completeReleases(state).filter((release) => release.commit !== commit);
  const candidates: CacheDonor[] = [];
  if (idle && complete.some((release) => release.commit === idle)) candidates.push({ commit: idle, why: `slot ${target} last ran it` });
  const newestFirst = complete.filter((release) => release.commit !== idle).sort((x, y) => Date.parse(y.builtAt) - Date.parse(x.builtAt));
  for (const release of newestFirst) candidates.push({ commit: release.commit, why: 'the newest kept release with a cache' });
  return candidates;
}

/** How `dir/relative` is reached, part by part: through a symbolic link, up to a part that is missing, or all the way through real entries. */
function walk(dir: string, relative: string): 'link' | 'missing' | 'present' {
  let current = dir;
  for (const part of relative.split('/')) {
    current = path.join(current, part);
    try {
      if (lstatSync(current).isSymbolicLink()) return 'link';
    } catch {
      return 'missing';
    }
  }
  return 'present';
}

/** A real folder (not a link, not a file) at `dir/relative`, reached through no link: a SHARED_PATHS link is never a cache's home. */
export function isPlainFolder(dir: string, relative: string): boolean {
  return walk(dir, relative) === 'present' && lstatSync(path.join(dir, relative)).isDirectory();
}

/** No link on the way to `dir/relative` (the folder itself may be missing): a copy written there stays in this release. */
function reachableWithoutLinks(dir: string, relative: string): boolean {
  return walk(dir, relative) !== 'link';
}

export type Carried = { from: CacheDonor; copied: string[] } | { from?: undefined; reason: string; failed?: boolean };

/**
 * Copy the cache folders of the first candidate that has any into `toDir`, replacing what is there.
 * A copy that fails removes what it copied and says why; it never throws (but for an interruption).
 */
export async function carryBuildCache(
  config: Config,
  state: State,
  target: SlotName,
  commit: string,
  toDir: string,
  signal?: AbortSignal,
): Promise<Carried> {
  const cachePaths = config.buildCachePaths;
  if (cachePaths.length === 0) return { reason: 'BUILD_CACHE_PATHS is empty' };
  for (const donor of cacheDonorCandidates(state, target, commit)) {
    const fromDir = releaseDir(config, donor.commit);
    const present = cachePaths.filter((relative) => isPlainFolder(fromDir, relative) && reachableWithoutLinks(toDir, relative));
    if (present.length === 0) continue;
    const copied: string[] = [];
    try {
      for (const relative of present) {
        const target = path.join(toDir, relative);
        copied.push(relative);
        rmSync(target, { recursive: true, force: true });
        mkdirSync(path.dirname(target), { recursive: true });
        await runCommand(fileArgv.copyTree(path.join(fromDir, relative), target), { signal, env: config.commandEnv });
      }
      return { from: donor, copied };
    } catch (error) {
      clearBuildCache(toDir, copied);
      if (signal?.aborted) throw error;
      return { reason: `copying ${copied.at(-1)} from release ${shortCommit(donor.commit)} failed (${firstLine(error)})`, failed: true };
    }
  }
  return { reason: `no kept release has ${cachePaths.join(' or ')}` };
}

/** Remove cache folders from a new release (never through a link: that would reach shared storage). */
export function clearBuildCache(dir: string, relatives: readonly string[]): void {
  for (const relative of relatives) {
    if (!reachableWithoutLinks(dir, relative)) continue;
    try {
      rmSync(path.join(dir, relative), { recursive: true, force: true });
    } catch {
      // A path that cannot be made (a file where a folder should be) holds no cache to remove.
    }
  }
}

export type WarmBuild = {
  config: Config;
  state: State;
  /** The idle slot the release is built for, and the release's commit and folder. */
  target: SlotName;
  commit: string;
  dir: string;
  cold?: ColdReason;
  signal?: AbortSignal;
  warn: (message: string) => void;
};

/**
 * Run the build warm when a kept release has a cache, else cold; a warm build that fails is run once
 * more without the cache. Returns what the build step's line says about it ("warm from release abc1234
 * (slot b last ran it: .next/cache)", "cold: --cold"). Throws only what the cold build throws.
 */
export async function buildWithCache(run: WarmBuild, build: () => Promise<void>): Promise<string> {
  const { config, dir } = run;
  // Caches under node_modules came with the install cache's copy, not from git: a cold build drops them too.
  const copiedByInstall = config.buildCachePaths.filter((relative) => relative.startsWith('node_modules/'));
  const cold = async (why: string) => {
    clearBuildCache(dir, copiedByInstall);
    await build();
    return `cold: ${why}`;
  };
  if (run.cold) return cold(`${run.cold} builds without the cache`);
  const carried = await carryBuildCache(config, run.state, run.target, run.commit, dir, run.signal);
  if (!carried.from) {
    if (carried.failed) run.warn(`build cache: ${carried.reason}; building cold`);
    return cold(carried.reason);
  }
  const from = `release ${shortCommit(carried.from.commit)}`;
  try {
    await build();
    return `warm from ${from} (${carried.from.why}: ${carried.copied.join(', ')})`;
  } catch (error) {
    if (run.signal?.aborted) throw error;
    run.warn(`the build with the cache of ${from} failed (${firstLine(error)}); running it once more without the cache`);
    clearBuildCache(dir, carried.copied);
    return cold(`the warm build from ${from}'s cache failed (${firstLine(error)}), so it ran again without it`);
  }
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}
