import { releaseCompleted } from '../../record/transitions.ts';
import type { StepFunction } from '../types.ts';

/** BUILD_CMD; then the release is complete, a start and rollback target from now on. */
export const build: StepFunction = async (run, io) => {
  const step = io.reporter.step('build');
  if (io.config.buildCmd.trim()) {
    await io.runStreamed(io.config.buildCmd, run.buildDir!, 'build', step);
    step.done(io.config.buildCmd);
  } else step.done('skipped (BUILD_CMD is empty)');
  io.store.defer(releaseCompleted(run.commit!, new Date().toISOString(), run.installKey));
};
