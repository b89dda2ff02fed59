import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { DEPLOY_TS } from '../project-dir.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { otherSlot, type Config, type SlotName } from '../config/config.ts';
import { drainAndStop } from './drain.ts';
import { formatDuration } from '../config/duration.ts';
import { isSwitchyardError } from '../errors.ts';
import { describeProbe, probeSlot } from '../slot/health.ts';
import { acquireLockWaiting, releaseLock, type Lock } from '../record/lock.ts';
import type { Reporter } from '../cli/reporter.ts';
import { paths } from '../host/paths.ts';
import { commandLine, isAlive } from '../host/process.ts';
import { createSlotProcesses } from '../slot/process-manager.ts';
import { spawnDetached } from '../host/run.ts';
import { loadState } from '../record/state.ts';
import { shortCommit, type Bake, type State } from '../record/state-shape.ts';
import { openStore } from '../record/store.ts';
import { bakeBegun, bakeEnded, historyAppended, slotStopped, trafficMovedTo } from '../record/transitions.ts';
import { createSwitch, drainsAtProxy, trafficTarget } from '../traffic/index.ts';
import { portValue, slotEndpoints } from '../slot/endpoints.ts';
import { waitForLongLived } from './retire.ts';
import { markWarm } from '../traffic/warm.ts';
import { startBakeJudge, type BakeJudge, type Judgement } from './bake-judge.ts';
import { untilRecorded } from './watcher-start.ts';

/**
 * The bake window: after a deploy the previous slot keeps running without traffic, so a rollback is
 * only a switch, and the new slot's health is watched. A detached `./deploy.ts bake-watch` (its own
 * session: it outlives the deploy command and its SSH connection) ends the window: it drains and
 * stops the previous slot at `endsAt`, or first moves traffic back to it when the new slot fails
 * AUTO_ROLLBACK_FAILURES health checks in a row. Any later command ends a window whose watcher is gone.
 */

export const AUTO_ROLLBACK_FAILURES = 3;
const CHECK_EVERY_MS = 1000;

export function bakeLogFile(deployRoot: string): string {
  return path.join(paths.run(deployRoot), 'bake.log');
}

/** Whether `pid` is a bake-watch process (a pid file can outlive its process and the pid be reused). */
export function isBakeWatcher(pid: number | null | undefined): boolean {
  return Boolean(pid && isAlive(pid) && commandLine(pid)?.includes('bake-watch'));
}

/** Start the detached watcher; its output goes to DEPLOY_ROOT/run/bake.log (and to the log of the deploy `deployLog` names). Returns its pid. */
export function startBakeWatcher(config: Config, cliEnv: Record<string, string | undefined>, deployLog?: string): number {
  const logFd = openSync(bakeLogFile(config.deployRoot), 'a', 0o600);
  try {
    return spawnDetached([DEPLOY_TS, 'bake-watch', '--no-color'], { cwd: config.deployRoot, env: { ...cliEnv, DEPLOY_ENV_FILE: config.envFile, ...(deployLog ? { SWITCHYARD_DEPLOY_LOG: deployLog } : {}) }, logFd });
  } finally {
    closeSync(logFd);
  }
}

export type WatchContext = {
  config: Config;
  reporter: Reporter;
  appEnv: Record<string, string | undefined>;
  hooks?: (name: string, facts: Record<string, string>) => Promise<void>;
  user: string;
  /** Test-only fault injection (SWITCHYARD_TEST_FAULT=kill@bake-end). */
  atPhase?: (phase: string) => Promise<void> | void;
  /** SIGTERM or Ctrl-C: the watcher stands down, leaving the window to the next command (standDown). */
  signal?: AbortSignal;
};

/** The watcher's loop: returns when its window is over (ended here, or by another command). */
export async function watchBake(ctx: WatchContext): Promise<string> {
  const { config, reporter } = ctx;
  await untilRecorded('window', () => loadState(config.deployRoot, config.appName, config.ports).bake?.watcherPid, { say: (line) => reporter.info(line), signal: ctx.signal });
  const opening = currentBake(config);
  // A deploy's window with auto rollback is judged on nginx's figures too; a rollback's ends at once.
  const judging = opening?.autoRollback && Date.now() < Date.parse(opening.endsAt);
  const judge = judging ? await startBakeJudge(config, opening, reporter, ctx.appEnv, ctx.signal) : undefined;
  try {
    return await watchLoop(ctx, judge);
  } finally {
    await judge?.close();
  }
}

async function watchLoop(ctx: WatchContext, judge: BakeJudge | undefined): Promise<string> {
  const { config, reporter } = ctx;
  let failures = 0;
  for (;;) {
    const bake = currentBake(config);
    if (!bake) return 'the window was ended by another command; nothing to do';
    if (ctx.signal?.aborted) return standDown(bake, ctx.signal.reason);
    if (Date.now() >= Date.parse(bake.endsAt)) {
      if (!judge) return await endWindow(ctx, bake);
      await judge.close();
      const summary = judge.summary();
      return `${summary}; ${await endWindow(ctx, bake)}`;
    }
    const call = bake.autoRollback ? await judge?.tick() : undefined;
    if (call) {
      await rollBackAutomatically(ctx, bake, call.reason, call.judgement);
      continue;
    }
    if (bake.autoRollback) {
      const result = await probeSlot(config, bake.live);
      failures = result.ok ? 0 : failures + 1;
      if (!result.ok) reporter.warn(`slot ${bake.live} failed health check ${failures} of ${AUTO_ROLLBACK_FAILURES}: ${describeProbe(result)}`);
      if (failures >= AUTO_ROLLBACK_FAILURES) {
        await rollBackAutomatically(ctx, bake, `slot ${bake.live} failed ${failures} health checks in a row during the bake window (last: ${describeProbe(result)})`);
        failures = 0;
        continue;
      }
    }
    const untilNextCheck = Math.min(CHECK_EVERY_MS, Math.max(0, Date.parse(bake.endsAt) - Date.now()));
    await sleep(untilNextCheck, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}

/**
 * Stopped by a signal while it waits: it changes nothing, so both slots run as they did and the state
 * keeps the window, whose watcher is now gone. That is the state a SIGKILL leaves, which every command
 * already reads: status says so, and the next deploy, rollback or status --repair ends the window and
 * stops the warm slot (lib/record/reconcile.ts).
 */
function standDown(bake: Bake, signal: unknown): string {
  return `${String(signal)} received: stopped watching, nothing changed: slot ${bake.live} stays live and slot ${bake.previous} stays warm; the next deploy, rollback or ./deploy.ts status --repair ends the window and stops slot ${bake.previous}`;
}

/** The window this process watches, if it still does. */
function currentBake(config: Config): Bake | undefined {
  const state = loadState(config.deployRoot, config.appName, config.ports);
  return state.bake && state.bake.watcherPid === process.pid ? state.bake : undefined;
}

/** The deploy lock, waited for while the window is still ours: a deploy or rollback that holds it ends the window itself. */
async function lockWhenFree(config: Config, user: string, signal?: AbortSignal): Promise<Lock | undefined> {
  try {
    return await acquireLockWaiting(config.deployRoot, 'bake-watch', user, () => !signal?.aborted && currentBake(config) !== undefined, { timeoutMs: 10 * 60_000, everyMs: 500 });
  } catch (error) {
    if (isSwitchyardError(error) && error.exitCode === 75) return undefined;
    throw error;
  }
}

async function endWindow(ctx: WatchContext, bake: Bake): Promise<string> {
  const { config, reporter } = ctx;
  // Without the lock: a deploy or rollback meanwhile takes the window (and the slot) over.
  const waited = await waitForLongLived(config, bake.previous, reporter, () => !ctx.signal?.aborted && currentBake(config) !== undefined);
  if (ctx.signal?.aborted) return standDown(bake, ctx.signal.reason);
  if (waited === 'taken') return 'the window was ended by another command; nothing to do';
  const lock = await lockWhenFree(config, ctx.user, ctx.signal);
  if (ctx.signal?.aborted && !lock) return standDown(bake, ctx.signal.reason);
  if (!lock) return 'the window was ended by another command; nothing to do';
  try {
    const store = openStore(config, reporter.redactor);
    const { state } = store;
    if (!state.bake || state.bake.watcherPid !== process.pid) return 'the window was ended by another command; nothing to do';
    const slot = bake.previous;
    await ctx.atPhase?.('bake-end');
    const step = reporter.step('drain');
    const detail = await drainAndStop({
      config,
      processes: createSlotProcesses(config, ctx.appEnv),
      reporter,
      step,
      slot,
      atProxy: drainsAtProxy(config.switchKind),
      hook: (name) => ctx.hooks?.(name, hookFacts(config, state, slot, { STOP_SLOT: slot })) ?? Promise.resolve(),
      stopped: () => store.apply(slotStopped(slot), bakeEnded),
    });
    step.done(detail);
    // Name the slot that was kept and is now stopped: after a rollback, bake.live is where traffic went back to.
    return `slot ${bake.previous} is no longer kept warm (slot ${bake.live} is live); ${detail}`;
  } finally {
    releaseLock(lock);
  }
}

async function rollBackAutomatically(ctx: WatchContext, bake: Bake, reason: string, judgement?: Judgement): Promise<void> {
  const { config, reporter } = ctx;
  const started = Date.now();
  const lock = await lockWhenFree(config, ctx.user, ctx.signal);
  if (!lock) return;
  let state: State;
  try {
    const store = openStore(config, reporter.redactor);
    state = store.state;
    if (!state.bake || state.bake.watcherPid !== process.pid) return;
    const failed = bake.live;
    const back = bake.previous;
    // Only back to a slot that answers: otherwise the failing slot is still the best there is.
    const warm = await probeSlot(config, back);
    if (!warm.ok) {
      reporter.warn(`not rolling back automatically: the warm slot ${back} does not answer either (${describeProbe(warm)}); slot ${failed} stays live`);
      return;
    }
    const step = reporter.step('switch');
    let detail: string;
    try {
      detail = await createSwitch(config).moveTo(
        trafficTarget(config, back, state.slots[back].commit),
        trafficTarget(config, failed, state.slots[failed].commit),
        (message) => step.progress(message),
      );
    } catch (error) {
      // The switch undoes itself on failure; the window goes on and the next failures try again.
      step.fail();
      reporter.warn(`automatic rollback to slot ${back} failed: ${(error as Error).message}`);
      return;
    }
    markWarm(config, failed);
    const rolledBack = historyAppended({
      at: new Date(started).toISOString(),
      user: ctx.user,
      command: 'rollback',
      slot: back,
      commit: state.slots[back].commit,
      previousCommit: state.slots[failed].commit,
      outcome: 'success',
      durationMs: Date.now() - started,
      reason,
      automatic: true,
      ...(judgement ? { judgement } : {}),
    });
    // The failed slot is drained and stopped at once, by this watcher, on its next turn.
    const windowEndingNow = bakeBegun({
      previous: failed,
      live: back,
      endsAt: new Date().toISOString(),
      watcherPid: process.pid,
      autoRollback: false,
    });
    state = store.apply(trafficMovedTo(back), rolledBack, windowEndingNow);
    step.done(`automatic rollback to slot ${back}: ${detail}`);
    reporter.warn(`rolled back automatically to slot ${back}: ${reason}`);
  } finally {
    releaseLock(lock);
  }
  await ctx.hooks?.('failed', hookFacts(config, state, bake.previous, { REASON: reason, AUTOMATIC: '1', COMMAND: 'rollback' })).catch((error) => reporter.warn(`hook failed failed: ${(error as Error).message}`));
}

function hookFacts(config: Config, state: State, slot: SlotName, extra: Record<string, string>): Record<string, string> {
  const other = otherSlot(slot);
  return {
    COMMAND: 'bake',
    SLOT: slot,
    PORT: portValue(slotEndpoints(config, slot)[0]),
    COMMIT: state.slots[slot].commit ?? '',
    PREVIOUS_COMMIT: state.slots[other].commit ?? '',
    PREVIOUS_SLOT: other,
    APP_DIR: paths.slot(config.deployRoot, slot),
    APP_NAME: config.appName,
    DEPLOY_ROOT: config.deployRoot,
    ...extra,
  };
}

/** One line for status: the window, its end, and whether its watcher still runs. */
export function describeBake(state: State, now = Date.now()): string | undefined {
  const bake = state.bake;
  if (!bake) return undefined;
  const left = Date.parse(bake.endsAt) - now;
  const watcher = isBakeWatcher(bake.watcherPid) ? `watcher pid ${bake.watcherPid}` : 'its watcher is not running: the next deploy, rollback or status --repair stops the warm slot';
  if (left <= 0) return `retiring slot ${bake.previous} (${shortCommit(state.slots[bake.previous].commit, '')}): its window is over; ${watcher} (its lines below)`;
  return `bake window: slot ${bake.previous} (${shortCommit(state.slots[bake.previous].commit, '')}) stays warm for an instant rollback until ${bake.endsAt}${left > 0 ? ` (${formatDuration(left)} left)` : ''}; auto rollback ${bake.autoRollback ? 'on' : 'off'}; ${watcher}`;
}
