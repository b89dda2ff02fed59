import { SwitchyardError } from '../errors.ts';
import type { Effect, Effects, RunChange } from './types.ts';

/**
 * How a step reports back: what it learnt is its result (returned, or carried by the StepFailure it
 * throws), and what it did on the host goes through `io.effect` the moment it happens, because a
 * step can still throw after it (a switch, then the new slot dies) and the clean-up must know.
 */

export const NO_EFFECTS: Effects = { startedNewSlot: false, switched: false };

/** The run's effects once `happened` has: pure, the runner keeps the only copy. */
export function effectsAfter(effects: Effects, happened: Effect): Effects {
  switch (happened) {
    case 'newSlotStarted':
      return { ...effects, startedNewSlot: true };
    case 'switched':
      return { ...effects, switched: true };
    case 'switchedBack':
      return { ...effects, switched: false };
    case 'canaryBegun':
      return { ...effects, canaryBegun: true };
    case 'canaryHandedOver':
      return { ...effects, canaryHandedOver: true };
  }
}

/** A step's failure after it learnt something the failure's record names (fetch: the commit it resolved). */
export class StepFailure extends SwitchyardError {
  constructor(
    message: string,
    readonly learnt: RunChange,
    options: ConstructorParameters<typeof SwitchyardError>[1] = {},
  ) {
    super(message, options);
  }
}
