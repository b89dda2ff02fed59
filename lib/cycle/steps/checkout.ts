import { cacheDir, checkoutSlot } from '../../release/git.ts';
import { linkSharedPaths, sharedRoot } from '../../release/shared-paths.ts';
import { shortCommit } from '../../record/state-shape.ts';
import { releaseBegun } from '../../record/transitions.ts';
import type { StepFunction } from '../types.ts';

/** A worktree of the commit as a new release, with SHARED_PATHS linked into it. */
export const checkout: StepFunction = async (run, io) => {
  const commit = run.commit!;
  const dir = run.buildDir!;
  // Recorded as incomplete first: a deploy killed from here on leaves a release no command will start.
  io.store.apply(releaseBegun(commit, new Date().toISOString()));
  const step = io.reporter.step('checkout');
  await checkoutSlot(cacheDir(io.config.deployRoot), dir, commit, { signal: io.ctx.signal, env: io.config.commandEnv });
  const shared = linkSharedPaths(io.config, dir);
  step.done(`${shortCommit(commit)} in ${dir}${shared.length ? `; linked ${shared.length} shared path(s) from ${sharedRoot(io.config)}` : ''}`);
};
