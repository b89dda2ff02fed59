import type { Config } from '../config/config.ts';

/** What `--dry-run` says about the install and build caches (lib/release/install-cache.ts, build-cache.ts). Pure. */

/** Why a build runs cold on purpose: `--cold` or `--rebuild`. */
export type ColdReason = '--cold' | '--rebuild';

export function describeInstallCache(rebuild: boolean | undefined): string {
  if (rebuild) return ' (--rebuild: the install cache is not used)';
  return ', or a copy of the node_modules of a kept release with the same lockfile (checked against its npm manifest; INSTALL_CMD runs when a package is missing)';
}

export function describeBuildCache(config: Config, cold: ColdReason | undefined): string {
  if (config.buildCachePaths.length === 0) return 'cold (BUILD_CACHE_PATHS is empty)';
  if (cold) return `cold: ${cold} builds without the cache`;
  return `warm when a kept release has ${config.buildCachePaths.join(' or ')} (copied from the release the idle slot last ran, else the newest; a warm build that fails runs once more cold)`;
}
