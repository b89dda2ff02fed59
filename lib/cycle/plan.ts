import type { Config } from '../config/config.ts';
import { describeEndpoints, slotEndpoints } from '../slot/endpoints.ts';
import { stepsFor, type CycleFacts } from './step-table.ts';

export type PlannedStep = { name: string; what: string };
export type Plan = { facts: CycleFacts; /** The target slot's ports or sockets, in words. */ where: string; steps: PlannedStep[] };

/**
 * What a command would do, step by step, from the one step table (step-table.ts), without doing any
 * of it: each step that applies to `facts`, with the hooks found around it, named as the run names
 * its step events. Pure.
 */
export function planCycle(config: Config, facts: CycleFacts, hooks: readonly string[]): Plan {
  const steps: PlannedStep[] = [];
  const hook = (name: string | undefined) => {
    if (name && hooks.includes(name)) steps.push({ name: `hook ${name}`, what: `run ${config.hooksDir}/${name}` });
  };
  let begun = false;
  for (const step of stepsFor(facts, config)) {
    if (step.name !== 'lock' && step.name !== 'recover' && !begun) {
      hook('begin');
      begun = true;
    }
    hook(step.before);
    steps.push({ name: step.name, what: step.describe(facts, config) });
    for (const inside of step.inside ?? []) hook(inside);
    hook(step.after);
  }
  hook('end');
  return { facts, where: describeEndpoints(slotEndpoints(config, facts.target)), steps };
}
