import { existsSync, realpathSync } from 'node:fs';
import type { Config, SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { cacheDir, resolveCommit } from '../release/git.ts';
import { releaseDir, slotTarget } from '../release/release-files.ts';
import { completeReleases, previousGoodCommit, releasesMatching } from '../release/releases.ts';
import { shortCommit, type State } from '../record/state-shape.ts';
import { slotDir } from '../slot/slots.ts';

/** Which release a rollback or restart starts, decided from the state before anything changes. */
export type Chosen = { commit: string; buildDir: string };

/**
 * The release a rollback starts: the kept one `revision` names (a unique SHA prefix, or a tag or
 * branch the local mirror resolves; nothing is fetched), else the previous good one.
 */
export async function chooseRollbackRelease(config: Config, state: State, target: SlotName, revision: string | undefined): Promise<Chosen> {
  const live = state.live;
  if (!live) {
    throw new SwitchyardError('nothing to roll back: no slot is live yet', { untouched: 'nothing was changed', next: 'deploy first with ./deploy.ts deploy' });
  }
  const legacy = legacyBuild(config, state, target);
  const available = (commit: string) =>
    Boolean(state.releases?.[commit]?.complete && existsSync(releaseDir(config, commit))) || commit === legacy;
  let commit: string | undefined;
  if (revision) {
    const matches = releasesMatching(state, revision).filter((release) => available(release.commit));
    if (matches.length > 1) throw new SwitchyardError(`${JSON.stringify(revision)} names ${matches.length} kept releases (${matches.map((release) => shortCommit(release.commit)).join(', ')})`, { untouched: 'nothing was changed', next: 'give more characters of the commit' });
    commit = matches[0]?.commit ?? (legacy?.startsWith(revision.toLowerCase()) ? legacy : undefined);
    if (!commit) commit = await resolveCommit(cacheDir(config.deployRoot), revision, config.commandEnv).catch(() => undefined);
    if (!commit || !available(commit)) {
      // Only releases a rollback could start: one whose folder was removed by hand is not offered.
      const kept = completeReleases(state).filter((release) => available(release.commit)).map((release) => shortCommit(release.commit));
      throw new SwitchyardError(`${JSON.stringify(revision)} is not a kept release${kept.length ? ` (kept: ${kept.join(', ')})` : ''}`, {
        untouched: 'nothing was changed',
        next: `./deploy.ts releases lists them; to build that commit use ./deploy.ts deploy ${revision}`,
      });
    }
  } else {
    commit = previousGoodCommit(state, available);
    if (!commit) {
      throw new SwitchyardError('cannot roll back: no earlier good release is kept', {
        untouched: `slot ${live} stays live`,
        next: 'deploy the commit you want with ./deploy.ts deploy <commit>',
      });
    }
  }
  const buildDir = commit === legacy && !state.releases?.[commit]?.complete ? slotDir(config, target) : releaseDir(config, commit);
  return { commit, buildDir };
}

/** The idle slot's own folder when it is a complete build from before releases were kept (not a symlink). */
function legacyBuild(config: Config, state: State, target: SlotName): string | undefined {
  const commit = state.slots[target].commit;
  const dir = slotDir(config, target);
  return commit && slotTarget(config, target) === dir && existsSync(dir) ? commit : undefined;
}

/** The live release again, started on the other slot from the same folder. */
export function chooseLiveRelease(config: Config, state: State): Chosen {
  const live = state.live;
  const commit = live ? state.slots[live].commit : null;
  const dir = live ? slotTarget(config, live) : undefined;
  if (!live || !commit || !dir) {
    throw new SwitchyardError('nothing to restart: no slot is live', { untouched: 'nothing was changed', next: 'deploy first with ./deploy.ts deploy' });
  }
  if (dir === slotDir(config, live)) {
    throw new SwitchyardError(`cannot restart: slot ${live} runs a build from before releases were kept (${dir}), which the other slot cannot share`, {
      untouched: 'nothing was changed',
      next: `deploy it once (./deploy.ts deploy ${shortCommit(commit)}) to keep it as a release, then restart`,
    });
  }
  if (!existsSync(dir)) {
    throw new SwitchyardError(`cannot restart: the live release's folder ${dir} is gone (deleted by hand?), so there is nothing to start again`, {
      untouched: `slot ${live} keeps running as it is`,
      next: `build it again with ./deploy.ts deploy ${shortCommit(commit)} (or roll back to a kept release)`,
    });
  }
  return { commit, buildDir: realpathSync(dir) };
}

/** A rollback to the slot the bake window keeps running, with the release asked for: a switch only (if it still answers). */
export function mayBeWarm(state: State, command: string, target: SlotName, commit: string | null): boolean {
  const bake = state.bake;
  return command === 'rollback' && Boolean(bake) && bake!.previous === target && state.slots[target].commit === commit;
}
