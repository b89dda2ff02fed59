import { readdirSync, statSync } from 'node:fs';
import type { Release } from './state-shape.ts';

const COMMIT_PATTERN = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * The releases of a state file that was lost, from the folders in releases/, oldest first. Nothing
 * on disk says whether a folder's build finished; each is taken as complete (a rollback needs one
 * in an incident), and a half-built one is safe: a rollback to it fails its health check before any
 * traffic moves. Pure.
 */
export function rebuiltReleases(folders: { commit: string; mtimeMs: number }[]): Record<string, Release> {
  const releases: Record<string, Release> = {};
  for (const folder of [...folders].sort((x, y) => x.mtimeMs - y.mtimeMs)) {
    releases[folder.commit] = { commit: folder.commit, builtAt: new Date(folder.mtimeMs).toISOString(), complete: true };
  }
  return releases;
}

/** The release folders under `dir` (named by their commit). */
export function releaseFolders(dir: string): { commit: string; mtimeMs: number }[] {
  try {
    return readdirSync(dir).filter((name) => COMMIT_PATTERN.test(name)).flatMap((commit) => {
      try {
        const stat = statSync(`${dir}/${commit}`);
        return stat.isDirectory() ? [{ commit, mtimeMs: stat.mtimeMs }] : [];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}
