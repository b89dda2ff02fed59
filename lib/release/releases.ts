import { SLOTS } from '../config/config.ts';
import type { HistoryEntry, Release, State } from '../record/state-shape.ts';

/**
 * Releases: one build per commit, kept under DEPLOY_ROOT/releases/<commit>. A slot is a port and a
 * process that runs one of them. Everything here is pure: it reads the state and returns decisions.
 */

export function completeReleases(state: State): Release[] {
  return Object.values(state.releases ?? {}).filter((release) => release.complete);
}

/** Commits rolled back from (by hand or automatically): never the target of a plain `rollback`. */
export function rolledBackFrom(history: HistoryEntry[]): Set<string> {
  const bad = new Set<string>();
  for (const entry of history) if (entry.command === 'rollback' && entry.outcome === 'success' && entry.previousCommit) bad.add(entry.previousCommit);
  // A later successful deploy of the same commit makes it good again.
  for (const entry of history) if (entry.command === 'deploy' && entry.outcome === 'success' && entry.commit && laterThanLastRollbackFrom(history, entry)) bad.delete(entry.commit);
  return bad;
}

function laterThanLastRollbackFrom(history: HistoryEntry[], deploy: HistoryEntry): boolean {
  const lastRollback = history.filter((entry) => entry.command === 'rollback' && entry.outcome === 'success' && entry.previousCommit === deploy.commit).at(-1);
  return !lastRollback || Date.parse(deploy.at) > Date.parse(lastRollback.at);
}

/**
 * Where a plain `rollback` goes: the newest commit that was live before the live one, that was not
 * rolled back from, and whose build is still kept (or still in the other slot's folder, from before
 * releases were kept). Undefined when there is none.
 */
export function previousGoodCommit(state: State, available: (commit: string) => boolean): string | undefined {
  const live = state.live ? state.slots[state.live].commit : null;
  const bad = rolledBackFrom(state.history);
  const seen = new Set<string>();
  for (const entry of [...state.history].reverse()) {
    if (entry.outcome !== 'success' || !entry.commit || seen.has(entry.commit)) continue;
    seen.add(entry.commit);
    if (entry.commit === live || bad.has(entry.commit)) continue;
    if (available(entry.commit)) return entry.commit;
  }
  return undefined;
}

/** The kept releases a revision names: a full SHA, a unique prefix of one (4+ characters). */
export function releasesMatching(state: State, revision: string): Release[] {
  const lower = revision.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(lower)) return [];
  return completeReleases(state).filter((release) => release.commit.startsWith(lower));
}

/**
 * Which releases to delete after a command: all but the KEEP newest, never the live one, the one the
 * other slot holds, or the last good one (the rollback target).
 */
export function releasesToPrune(state: State, keep: number, lastGood: string | undefined): string[] {
  const protectedCommits = new Set<string>();
  for (const slot of SLOTS) {
    const commit = state.slots[slot].commit;
    if (commit) protectedCommits.add(commit);
  }
  if (lastGood) protectedCommits.add(lastGood);
  const newestFirst = Object.values(state.releases ?? {}).sort((x, y) => Date.parse(y.builtAt) - Date.parse(x.builtAt));
  const kept = new Set(newestFirst.filter((release) => release.complete).slice(0, keep).map((release) => release.commit));
  return newestFirst
    .filter((release) => !kept.has(release.commit) && !protectedCommits.has(release.commit))
    .map((release) => release.commit);
}

/** What each kept release has been through, newest entry last: "deploy success", "rollback success (automatic)". */
export function outcomesOf(history: HistoryEntry[], commit: string): string[] {
  return history.filter((entry) => entry.commit === commit).map((entry) => `${entry.command} ${entry.outcome}`);
}

/** A deploy of `commit` starts the kept release as it is (no checkout, install or build): complete, still on disk, and no --rebuild. */
export function reusesRelease(state: State, commit: string, onDisk: boolean, rebuild: boolean): boolean {
  return Boolean(state.releases?.[commit]?.complete && onDisk && !rebuild);
}
