import { existsSync } from 'node:fs';
import { installKey, releaseDir, reuseDependencies } from '../../release/release-files.ts';
import { completeReleases } from '../../release/releases.ts';
import { shortCommit } from '../../record/state.ts';
import type { StepFunction } from '../types.ts';

/** INSTALL_CMD, or a copy of the dependencies of a kept release installed from the same lockfile. */
export const install: StepFunction = async (run, io) => {
  const { config } = io;
  const dir = run.buildDir!;
  const step = io.reporter.step('install');
  const key = installKey(dir, config.installCmd);
  const donor = key ? completeReleases(io.store.state).find((release) => release.installKey === key && release.commit !== run.commit && existsSync(releaseDir(config, release.commit))) : undefined;
  if (donor) {
    const linked = await reuseDependencies(releaseDir(config, donor.commit), dir, io.ctx.signal);
    step.done(`same lockfile as release ${shortCommit(donor.commit)}: ${linked ? 'its node_modules copied (copy-on-write where the filesystem can)' : 'it has no node_modules, nothing to install'}; ${config.installCmd} not run`);
  } else if (config.installCmd.trim()) {
    await io.runStreamed(config.installCmd, dir, 'install', step);
    step.done(config.installCmd);
  } else step.done('skipped (INSTALL_CMD is empty)');
  return { installKey: key };
};
