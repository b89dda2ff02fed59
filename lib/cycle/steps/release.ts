import { formatDuration } from '../../config/duration.ts';
import { isSwitchyardError, SwitchyardError } from '../../errors.ts';
import { shortCommit } from '../../record/state-shape.ts';
import { releaseCmdRecorded } from '../../record/transitions.ts';
import { releaseCmdSkipped } from '../step-table.ts';
import type { StepFunction } from '../types.ts';

/**
 * RELEASE_CMD (migrations), once per commit: in the new release, with the app's environment, before
 * the new slot takes any traffic. Recorded only once it exits 0, so a deploy killed while it runs
 * runs it again next time; a failure throws before `start`, so nothing was switched.
 */
export const release: StepFunction = async (run, io) => {
  const { config, store } = io;
  const commit = run.commit!;
  const step = io.reporter.step('release');
  const skipped = releaseCmdSkipped(run.options.releaseCmd, commit, store.state.releaseCmdRuns?.[commit]?.at);
  if (skipped) {
    step.done(skipped);
    return;
  }
  const started = Date.now();
  try {
    await io.runStreamed(config.releaseCmd, run.buildDir!, 'release', step, { env: releaseEnvironment(io.facts()), timeoutMs: config.releaseTimeoutMs });
  } catch (error) {
    step.fail();
    if (io.ctx.signal.aborted) throw error;
    throw releaseFailure(error, config.releaseTimeoutMs);
  }
  const log = run.logId ? { log: run.logId } : {};
  store.apply(releaseCmdRecorded(commit, { at: new Date().toISOString(), ...log, ...fleetOf(io.ctx.cliEnv ?? io.ctx.env) }));
  step.done(`${config.releaseCmd} (recorded for ${shortCommit(commit)}: not run again for it) in ${formatDuration(Date.now() - started)}`);
};

/** The hooks' facts a migration may want, as SWITCHYARD_* variables; no PORT: no process of the new slot runs yet. */
function releaseEnvironment(facts: Record<string, string>): Record<string, string> {
  const keys = ['COMMAND', 'SLOT', 'COMMIT', 'PREVIOUS_COMMIT', 'PREVIOUS_SLOT', 'APP_DIR', 'APP_NAME', 'DEPLOY_ROOT'];
  return Object.fromEntries(keys.filter((key) => key in facts).map((key) => [`SWITCHYARD_${key}`, facts[key]]));
}

function fleetOf(env: Record<string, string | undefined>): { fleet?: string } {
  return env.SWITCHYARD_FLEET_ID ? { fleet: env.SWITCHYARD_FLEET_ID } : {};
}

/** The one line: how it ended; the runner adds which slot still serves. Its last lines (error lines first) come along. */
function releaseFailure(error: unknown, timeoutMs: number): SwitchyardError {
  const end = isSwitchyardError(error) ? error.command : undefined;
  const what = end?.timedOut
    ? `release command timed out after RELEASE_TIMEOUT (${formatDuration(timeoutMs)}) and was stopped`
    : end?.exitCode !== null && end?.exitCode !== undefined
      ? `release command failed (exit ${end.exitCode})`
      : end?.signal
        ? `release command was killed by ${end.signal}`
        : `release command could not run (${error instanceof Error ? error.message : String(error)})`;
  return new SwitchyardError(`${what}: nothing was switched, and it is not recorded as run`, {
    next: 'fix the migration (RELEASE_CMD) and deploy again: it runs again then',
    details: isSwitchyardError(error) ? error.details : [],
    cause: error,
  });
}
