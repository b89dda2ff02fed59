import { existsSync } from 'node:fs';
import type { Config } from '../lib/config/config.ts';
import type { Reporter } from '../lib/cli/reporter.ts';
import { cacheDir, checkRevision, resolveCommit } from '../lib/release/git.ts';
import { findHook, HOOK_NAMES } from '../lib/cycle/hooks.ts';
import { planCycle } from '../lib/cycle/plan.ts';
import { loadState } from '../lib/record/state.ts';
import { SwitchyardError } from '../lib/errors.ts';
import type { DeployOptions } from '../lib/cycle/cycle.ts';

/** `deploy --dry-run`: the plan, from what is already on disk; nothing is fetched, locked or written. */
export async function printPlan(config: Config, reporter: Reporter, command: 'deploy' | 'rollback', revision: string | undefined, options: DeployOptions = {}): Promise<number> {
  const state = loadState(config.deployRoot, config.appName, config.ports);
  const cache = cacheDir(config.deployRoot);
  let commit: string | null = null;
  let note = '';
  const wanted = revision ?? `refs/heads/${config.branch}`;
  const problem = checkRevision(wanted);
  if (problem) throw new SwitchyardError(`cannot plan a deploy of ${JSON.stringify(wanted)}: ${problem}`, { untouched: 'nothing was changed' });
  if (existsSync(`${cache}/HEAD`)) {
    try {
      commit = await resolveCommit(cache, wanted);
      note = ' (as of the last fetch; the real deploy fetches first)';
    } catch {
      note = ` (${wanted} is not in the local mirror yet; the real deploy fetches first and fails if it does not exist)`;
    }
  } else {
    note = ' (no local mirror yet: the first deploy clones the repository)';
  }
  const hooks = HOOK_NAMES.filter((name) => findHook(config.hooksDir, name));
  const plan = planCycle(config, state, command, commit, hooks, revision, options);
  const given = revision === undefined ? `${config.branch} (DEPLOY_BRANCH)` : /^[0-9a-f]{40}$/.test(revision) ? revision.slice(0, 12) : revision;
  reporter.info(`dry run: ${command} ${given}${commit && commit !== revision ? ` = ${commit.slice(0, 12)}` : ''} to slot ${plan.slot} (${plan.where})${note}; nothing will be changed`);
  for (const step of plan.steps) reporter.info(`  ${step.name.padEnd(18)} ${step.what}`);
  return 0;
}
