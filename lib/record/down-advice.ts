import type { SlotName } from '../config/config.ts';
import type { Assessment, HostFacts } from './reconcile.ts';

/**
 * What to tell an operator whose live slot does not serve. `status --repair` only reconciles the
 * record with the host; it never starts a slot, so when the live slot is not running the fix is
 * `resume` (it starts the live release again from its own folder), not --repair.
 */

/** The live slot that is down, and whether it is stopped (resume starts it) or running but unhealthy. Pure. */
export function liveSlotDown(assessment: Pick<Assessment, 'live'>, facts: Pick<HostFacts, 'slots'>): { slot: SlotName; running: boolean } | undefined {
  const live = assessment.live;
  if (!live || facts.slots[live].healthy) return undefined;
  return { slot: live, running: facts.slots[live].runningPid !== undefined };
}

/** The advice line for a site that is down. Pure. */
export function downAdvice(down: { slot: SlotName; running: boolean }): string {
  if (!down.running) return `slot ${down.slot} (live) is not running: run ./deploy.ts resume to start it again (status --repair does not start slots)`;
  return `slot ${down.slot} (live) is running but fails its health check: see ./deploy.ts logs ${down.slot}, then deploy a fix or roll back (./deploy.ts rollback)`;
}
