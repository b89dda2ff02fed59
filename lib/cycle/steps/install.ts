import { installKey } from '../../release/release-files.ts';
import { reuseInstall } from '../../release/install-cache.ts';
import type { StepFunction } from '../types.ts';

/** INSTALL_CMD, or a checked copy of the dependencies of a kept release installed from the same lockfile. */
export const install: StepFunction = async (run, io) => {
  const { config } = io;
  const dir = run.buildDir!;
  const step = io.reporter.step('install');
  const key = installKey(dir, config.installCmd);
  const rebuild = run.options.rebuild ?? false;
  const cached = rebuild ? { used: false as const, why: '--rebuild does not use the install cache' } : await reuseInstall(config, io.store.state, run.commit!, dir, key, io.ctx.signal);
  if (cached.used) {
    step.done(cached.detail);
  } else if (config.installCmd.trim()) {
    if (cached.why && !rebuild) io.reporter.warn(`install cache: ${cached.why}; running ${config.installCmd}`);
    await io.runStreamed(config.installCmd, dir, 'install', step);
    step.done(`${config.installCmd}${cached.why ? ` (${cached.why})` : ''}`);
  } else step.done('skipped (INSTALL_CMD is empty)');
  return { installKey: key };
};
