import { existsSync } from 'node:fs';
import { otherSlot, type Config, type SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { cacheDir, checkRevision, remoteCommit, resolveCommit } from '../release/git.ts';
import { releaseDir } from '../release/release-files.ts';
import { reusesRelease } from '../release/releases.ts';
import { assessHost, reconciledState } from '../record/reconcile.ts';
import { loadState } from '../record/state.ts';
import type { CycleCommand } from '../record/state-shape.ts';
import { createSlotProcesses } from '../slot/process-manager.ts';
import { createSwitch } from '../traffic/index.ts';
import { gatherFacts } from './recover.ts';
import { slotAnswers } from './runner.ts';
import type { CycleFacts } from './step-table.ts';
import { chooseLiveRelease, chooseRollbackRelease, mayBeWarm } from './target.ts';
import type { DeployOptions } from './types.ts';

export type Forecast = { facts: CycleFacts; /** How sure the commit is, in words for the dry run's first line. */ note: string };

/**
 * The facts a run would learn, found without changing anything: no lock, no fetch (the commit as of
 * the local mirror), no state write. Recovery is only assessed, and the rest is decided on the state
 * it would leave, with the same functions the run uses, so the dry run lists the run's steps.
 */
export async function forecast(
  config: Config,
  command: CycleCommand,
  revision: string | undefined,
  options: DeployOptions,
): Promise<Forecast> {
  const recorded = loadState(config.deployRoot, config.appName, config.ports);
  const processes = createSlotProcesses(config, {});
  const hostFacts = await gatherFacts(config, createSwitch(config), processes, recorded);
  const assessment = assessHost(recorded, hostFacts, { keepRecordedLive: command === 'rollback' });
  const recovers = assessment.findings.length > 0;
  const state = recovers ? reconciledState(recorded, hostFacts, assessment) : recorded;
  const previous = state.live;
  const target: SlotName = previous ? otherSlot(previous) : state.next_deploy;
  const { rebuild, cold, releaseCmd } = options;
  const base = { command, target, previous, revision, recovers, warm: false, rebuild, cold, releaseCmd, canary: command === 'deploy' ? (options.canary ?? config.canaryShare) : 0 };
  if (command === 'deploy') {
    const { commit, note } = await mirrorCommit(config, revision);
    const reuse = commit !== null && reusesRelease(state, commit, existsSync(releaseDir(config, commit)), options.rebuild ?? false);
    return { facts: { ...base, commit, reuse, releaseCmdRanAt: commit ? state.releaseCmdRuns?.[commit]?.at : undefined }, note };
  }
  const chosen = command === 'rollback' ? await chooseRollbackRelease(config, state, target, revision) : chooseLiveRelease(config, state);
  const warm = mayBeWarm(state, command, target, chosen.commit) && (await slotAnswers(config, processes, target)) === true;
  return { facts: { ...base, commit: chosen.commit, reuse: true, warm }, note: ' (a kept release)' };
}

/** The commit a deploy would resolve: REPO's own branch or tag (read, not fetched), else the local mirror's as of the last fetch. */
async function mirrorCommit(config: Config, revision: string | undefined): Promise<{ commit: string | null; note: string }> {
  const wanted = revision ?? `refs/heads/${config.branch}`;
  const problem = checkRevision(wanted);
  if (problem) throw new SwitchyardError(`cannot plan a deploy of ${JSON.stringify(wanted)}: ${problem}`, { untouched: 'nothing was changed' });
  if (/^[0-9a-f]{40}$/.test(wanted)) return { commit: wanted, note: '' };
  const remote = await remoteCommit(config.repo, wanted, config.commandEnv).catch(() => undefined);
  if (remote) return { commit: remote, note: ' (as REPO has it now)' };
  const cache = cacheDir(config.deployRoot);
  if (!existsSync(`${cache}/HEAD`)) return { commit: null, note: ' (no local mirror yet: the first deploy clones the repository)' };
  try {
    return { commit: await resolveCommit(cache, wanted, config.commandEnv), note: ' (as of the last fetch; the real deploy fetches first)' };
  } catch {
    return { commit: null, note: ` (${wanted} is not in the local mirror yet; the real deploy fetches first and fails if it does not exist)` };
  }
}
