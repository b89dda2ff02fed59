import type { Baseline } from '../record/state-shape.ts';
import { openTrafficLog, type TrafficLog } from '../judge/index.ts';
import { isSwitchyardError } from '../errors.ts';
import { FLOW_STEPS } from './step-table.ts';
import type { Run, StepIo } from './types.ts';
import type { Config } from '../config/config.ts';
import { setTimeout as sleep } from 'node:timers/promises';

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
    log = await openWhenFree(io.config);
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

/** The watcher of a window this deploy ended lets go of the port on its next turn (within a second or so). */
async function openWhenFree(config: Config): Promise<TrafficLog> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openTrafficLog(config);
    } catch (error) {
      const taken = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
      if (!taken || attempt >= 10) throw error;
      await sleep(300);
    }
  }
}
