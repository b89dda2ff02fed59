import { describeEndpoints, slotEndpoints } from '../slot/endpoints.ts';
import type { Config, SlotName } from '../config/config.ts';
import { otherSlot, type CycleCommand, type State } from '../record/state.ts';
import { stepsFor, type CycleFacts } from './steps.ts';

export type PlannedStep = { name: string; what: string };
export type Plan = { command: CycleCommand; slot: SlotName; port: number; /** The slot's ports or sockets, in words. */ where: string; commit: string | null; previous: SlotName | null; steps: PlannedStep[] };

/** What a command would do, step by step, from the one step table (lib/cycle/steps.ts), without doing any of it. Pure. */
export function planCycle(config: Config, state: State, command: CycleCommand, commit: string | null, hooks: readonly string[], revision?: string, options: { rebuild?: boolean; cold?: boolean } = {}): Plan {
  const previous = state.live;
  const slot: SlotName = previous ? otherSlot(previous) : state.next_deploy;
  const facts: CycleFacts = {
    command,
    target: slot,
    previous,
    commit,
    revision,
    reuse: command !== 'deploy' || Boolean(commit && state.releases?.[commit]?.complete && !options.rebuild),
    rebuild: options.rebuild,
    cold: options.cold,
    warm: command === 'rollback' && state.bake?.previous === slot && state.slots[slot].commit === commit,
  };
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
  return { command, slot, port: config.ports[slot], where: describeEndpoints(slotEndpoints(config, slot)), commit, previous, steps };
}
