import type { CycleContext } from '../cycle/types.ts';
import { SwitchyardError } from '../errors.ts';
import { releaseLock } from '../record/lock.ts';
import { loadState } from '../record/state.ts';
import { shortCommit, type Canary, type CycleCommand, type State } from '../record/state-shape.ts';
import { createSlotProcesses } from '../slot/process-manager.ts';
import { lockAfterWatcher } from '../cycle/watcher-lock.ts';
import { promoteCanary, rollBackCanary, type CanaryEndContext } from './end.ts';

/** What `promote`, `rollback`, `deploy` and `restart` do while a canary runs; the caller holds the lock unless said. */

function endContext(ctx: CycleContext): CanaryEndContext {
  const processes = ctx.processes ?? createSlotProcesses(ctx.config, ctx.env);
  return { config: ctx.config, reporter: ctx.reporter, processes, user: ctx.deployer, cliEnv: ctx.cliEnv ?? {} };
}

export function describeCanaryShort(canary: Canary): string {
  return `a canary of ${shortCommit(canary.commit)} runs on slot ${canary.slot} (${canary.share}% of users, step ${canary.step + 1} of ${canary.steps.length})`;
}

/** `promote`: takes the lock (waiting for a watcher that holds it a moment), then the switch. */
export async function promoteRunningCanary(ctx: CycleContext): Promise<string> {
  const { config } = ctx;
  const lock = await lockAfterWatcher(config, 'promote', ctx.deployer, undefined, ctx.reporter);
  try {
    const state = loadState(config.deployRoot, config.appName, config.ports);
    if (!state.canary) {
      throw new SwitchyardError('no canary is running, so there is nothing to promote', {
        untouched: `nothing was changed; slot ${state.live ?? 'none'} is live`,
        next: 'deploy with --canary N% (or CANARY=N%) to start one; ./deploy.ts status shows what runs',
      });
    }
    return await promoteCanary(endContext(ctx), `promoted by ${ctx.deployer}`);
  } finally {
    releaseLock(lock);
  }
}

/**
 * A command that finds a canary running (after recovery, so its watcher is alive): `rollback` ends
 * it (every user back on the live slot, the canary slot stopped) and returns its line; anything else
 * is refused, changing nothing.
 */
export async function actDuringCanary(
  ctx: CycleContext,
  state: State,
  command: CycleCommand,
  revision: string | undefined,
): Promise<string | undefined> {
  const canary = state.canary;
  if (!canary) return undefined;
  if (command === 'rollback' && revision === undefined) {
    return await rollBackCanary(endContext(ctx), `rolled back by ${ctx.deployer} during the canary`, false);
  }
  throw new SwitchyardError(`${describeCanaryShort(canary)}, so ${command}${revision ? ` ${revision}` : ''} was not started`, {
    untouched: `nothing was changed; the canary goes on, slot ${canary.live} serves the rest`,
    next: `end it first with ./deploy.ts promote or ./deploy.ts rollback, then run ${command} again`,
  });
}
