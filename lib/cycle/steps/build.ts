import { buildWithCache } from '../../release/build-cache.ts';
import { releaseCompleted } from '../../record/transitions.ts';
import type { StepFunction } from '../types.ts';

/** BUILD_CMD, warm from a kept release's build cache where it can; then the release is complete, a start and rollback target. */
export const build: StepFunction = async (run, io) => {
  const { config } = io;
  const step = io.reporter.step('build');
  if (config.buildCmd.trim()) {
    const cold = run.options.rebuild ? '--rebuild' : run.options.cold ? '--cold' : undefined;
    const how = await buildWithCache(
      {
        config,
        state: io.store.state,
        target: run.target,
        commit: run.commit!,
        dir: run.buildDir!,
        cold,
        signal: io.ctx.signal,
        warn: (message) => io.reporter.warn(message),
      },
      () => io.runStreamed(config.buildCmd, run.buildDir!, 'build', step),
    );
    step.done(`${config.buildCmd}; ${how}`);
  } else step.done('skipped (BUILD_CMD is empty)');
  io.store.defer(releaseCompleted(run.commit!, new Date().toISOString(), run.installKey));
};
