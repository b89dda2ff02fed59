import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../lib/errors.ts';
import { effectsAfter, NO_EFFECTS, StepFailure } from '../../lib/cycle/step-outcome.ts';
import type { Effect } from '../../lib/cycle/types.ts';

describe('how a step reports back', () => {
  const after = (...happened: Effect[]) => happened.reduce(effectsAfter, NO_EFFECTS);

  it('folds the effects a step reports into what the clean-up after a failure reads', () => {
    expect(after()).toEqual({ startedNewSlot: false, switched: false });
    expect(after('newSlotStarted', 'switched')).toEqual({ startedNewSlot: true, switched: true });
    // The new slot died during the switch and traffic went back: the clean-up stops it, the previous slot stays live.
    expect(after('newSlotStarted', 'switched', 'switchedBack')).toEqual({ startedNewSlot: true, switched: false });
    expect(after('canaryBegun', 'canaryHandedOver')).toMatchObject({ canaryBegun: true, canaryHandedOver: true });
  });

  it('leaves the effects it is given as they were', () => {
    const before = after('newSlotStarted');
    effectsAfter(before, 'switched');
    expect(before.switched).toBe(false);
  });

  it('a StepFailure is the error the operator reads, with what the step learnt for the failure record', () => {
    const failure = new StepFailure('release abc1234 runs on slot a', { commit: 'abc1234' }, { untouched: 'nothing was changed' });
    expect(failure).toBeInstanceOf(SwitchyardError);
    expect(failure.line).toBe('release abc1234 runs on slot a; nothing was changed');
    expect(failure.learnt).toEqual({ commit: 'abc1234' });
  });
});
