import type { Baseline } from '../record/state.ts';
import { openTrafficLog, type TrafficLog } from '../judge/index.ts';
import { isSwitchyardError } from '../errors.ts';
import { FLOW_STEPS } from './step-table.ts';
import type { Run, StepIo } from './types.ts';

/**
 * The yardstick of the bake window's judgement: nginx's figures for the slot that is live while a
 * deploy builds and starts the new one, up to the switch. Gathered by the deploy command itself (the
 * old slot takes no traffic after the switch), handed to the watcher in the bake record. Without it
 * (a port taken, a kept release switched in a second) the new slot meets CANARY_MAX_ERROR_RATE alone.
 */
export type BaselineLog = { take(): Baseline | undefined; close(): Promise<void> };

export async function openBaseline(run: Readonly<Run>, io: StepIo): Promise<BaselineLog | undefined> {
  const bakes = FLOW_STEPS.find((step) => step.name === 'bake')!.applies(run, io.config);
  if (run.command !== 'deploy' || !run.previous || !bakes || !io.config.autoRollback) return undefined;
  const slot = run.previous;
  let log: TrafficLog;
  try {
    log = await openTrafficLog(io.config);
  } catch (error) {
    io.reporter.warn(`the bake window will judge slot ${run.target} without slot ${slot}'s figures: ${isSwitchyardError(error) ? error.line : (error as Error).message}`);
    return undefined;
  }
  const opened = Date.now();
  let taken: Baseline | undefined;
  return {
    take() {
      taken ??= { slot, figures: log.take()[slot], ms: Date.now() - opened };
      return taken;
    },
    close: () => log.close(),
  };
}
