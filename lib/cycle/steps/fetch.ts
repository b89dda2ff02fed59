import { existsSync } from 'node:fs';
import { cacheDir, fetchRepo, resolveCommit } from '../../release/git.ts';
import { releaseDir } from '../../release/release-files.ts';
import { reusesRelease } from '../../release/releases.ts';
import { shortCommit } from '../../record/state-shape.ts';
import { SLOTS } from '../../slot/slots.ts';
import { StepFailure } from '../step-outcome.ts';
import type { StepFunction } from '../types.ts';

/** Fetch the repository, resolve the revision to a commit, and learn whether it is a kept release. */
export const fetch: StepFunction = async (run, io) => {
  const { config, store } = io;
  const cache = cacheDir(config.deployRoot);
  const step = io.reporter.step('fetch');
  await fetchRepo(config.repo, cache, { signal: io.ctx.signal, env: config.commandEnv });
  const commit = await resolveCommit(cache, run.revision ?? `refs/heads/${config.branch}`, config.commandEnv);
  const buildDir = releaseDir(config, commit);
  const kept = store.state.releases?.[commit];
  const reuse = reusesRelease(store.state, commit, existsSync(buildDir), run.options.rebuild ?? false);
  const asked = `${run.revision ?? config.branch} → ${shortCommit(commit)}`;
  if (reuse) {
    step.done(`${asked}; release ${shortCommit(commit)} is kept (built ${kept!.builtAt}): no checkout, install or build (--rebuild to build it again)`);
    return { commit, buildDir, reuse };
  }
  const runningIt = [];
  for (const slot of SLOTS) {
    if (store.state.slots[slot].commit === commit && (await io.processes.runningPid(slot)) !== undefined) runningIt.push(slot);
  }
  if (kept && runningIt.length > 0) {
    step.fail();
    // The failure's history entry names the commit it refused to rebuild.
    const why = `release ${shortCommit(commit)} runs on slot ${runningIt.join(' and ')}; rebuilding it would change the files under a running app`;
    throw new StepFailure(why, { commit, buildDir }, {
      untouched: 'nothing was changed',
      next: `deploy it without --rebuild (it is started as kept), or deploy or roll back to another release first`,
    });
  }
  step.done(asked);
  return { commit, buildDir, reuse };
};
