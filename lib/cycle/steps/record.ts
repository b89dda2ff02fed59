import { cacheDir, pruneWorktrees } from '../../release/git.ts';
import { releaseDir, removeRelease } from '../../release/release-files.ts';
import { previousGoodCommit, releasesToPrune } from '../../release/releases.ts';
import { shortCommit } from '../../record/state-shape.ts';
import { releasesForgotten } from '../../record/transitions.ts';
import { recordOutcome } from '../history.ts';
import type { StepFunction, StepIo } from '../types.ts';

/** The history entry (the journal is cleared with it), then releases beyond KEEP_RELEASES are pruned. */
export const record: StepFunction = async (run, io) => {
  const step = io.reporter.step('record');
  recordOutcome(run, io, 'success');
  pruneReleases(io);
  step.done(`slot ${run.target} is live`);
};

/** After a success: keep KEEP_RELEASES, the live one, the other slot's and the last good one. */
function pruneReleases(io: StepIo): void {
  const { config, store } = io;
  const available = (commit: string) => Boolean(store.state.releases?.[commit]?.complete);
  const lastGood = previousGoodCommit(store.state, available);
  const doomed = releasesToPrune(store.state, config.keepReleases, lastGood);
  if (doomed.length === 0) return;
  // Forgotten by the state first: a kill mid-removal leaves a folder no command will start.
  store.apply(releasesForgotten(doomed));
  try {
    for (const commit of doomed) removeRelease(config, commit);
    void pruneWorktrees(cacheDir(config.deployRoot), config.commandEnv).catch(() => undefined);
    io.reporter.info(`  pruned ${doomed.length} old release(s): ${doomed.map((commit) => shortCommit(commit)).join(', ')} (KEEP_RELEASES=${config.keepReleases})`);
  } catch (error) {
    io.reporter.warn(`could not remove an old release folder (${(error as Error).message}); the deploy stands; remove it by hand from ${releaseDir(config, '')}`);
  }
}
