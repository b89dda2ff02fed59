import type { Config } from '../lib/config/config.ts';
import type { Reporter } from '../lib/cli/reporter.ts';
import { findHook, HOOK_NAMES } from '../lib/cycle/hooks.ts';
import { forecast } from '../lib/cycle/forecast.ts';
import { planCycle } from '../lib/cycle/plan.ts';
import type { DeployOptions } from '../lib/cycle/types.ts';
import { shortCommit, type CycleCommand } from '../lib/record/state-shape.ts';

/** `--dry-run`: the plan, from what is already on disk; nothing is fetched, locked or written. */
export async function printPlan(
  config: Config,
  reporter: Reporter,
  command: CycleCommand,
  revision: string | undefined,
  options: DeployOptions = {},
): Promise<number> {
  const { facts, note } = await forecast(config, command, revision, options);
  const hooks = HOOK_NAMES.filter((name) => findHook(config.hooksDir, name));
  const plan = planCycle(config, facts, hooks);
  const given = revision === undefined ? (command === 'deploy' ? `${config.branch} (DEPLOY_BRANCH)` : '') : /^[0-9a-f]{40}$/.test(revision) ? shortCommit(revision) : revision;
  const resolved = facts.commit && facts.commit !== revision ? ` = ${shortCommit(facts.commit)}` : '';
  reporter.plan(`dry run: ${command}${given ? ` ${given}` : ''}${resolved} to slot ${facts.target} (${plan.where})${note}; nothing will be changed`, plan.steps);
  return 0;
}
