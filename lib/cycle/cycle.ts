import { otherSlot, type SlotName } from '../config/config.ts';
import type { Reporter } from '../cli/reporter.ts';
import { formatDuration } from '../config/duration.ts';
import { prepareDeployRoot } from '../host/deploy-root.ts';
import { openDeployLog, type DeployLog } from '../record/deploy-log.ts';
import { describeTakeover, releaseLock } from '../record/lock.ts';
import { lockAfterWatcher } from './watcher-lock.ts';
import { loadState } from '../record/state.ts';
import type { CycleCommand } from '../record/state-shape.ts';
import { StateStore } from '../record/store.ts';
import { refuseTakenEndpoints } from '../slot/health.ts';
import { createSlotProcesses } from '../slot/process-manager.ts';
import { createSwitch } from '../traffic/index.ts';
import { refuseOtherAppName } from './app-name.ts';
import { reconcile } from './recover.ts';
import { actDuringCanary } from '../canary/commands.ts';
import { runSteps, slotAnswers } from './runner.ts';
import { chooseLiveRelease, chooseRollbackRelease, mayBeWarm, type Chosen } from './target.ts';
import type { CycleContext, DeployOptions, Run } from './types.ts';

/**
 * The deploy, rollback and restart commands: take the lock, put right what an earlier command left
 * (recover.ts), decide the run's record (which slot, which release), and hand it to the runner,
 * which walks the step table (step-table.ts) with one file per step (steps/).
 */

export type { CycleContext, DeployOptions, HookRunner } from './types.ts';

export async function deploy(ctx: CycleContext, revision: string | undefined, options: DeployOptions = {}): Promise<void> {
  await runCycle(ctx, 'deploy', revision, options);
}

/** To the previous good release, or to the kept release `revision` names. */
export async function rollback(ctx: CycleContext, revision?: string): Promise<void> {
  await runCycle(ctx, 'rollback', revision);
}

/** The live release again, on the idle slot: a restart with zero downtime. */
export async function restart(ctx: CycleContext): Promise<void> {
  await runCycle(ctx, 'restart', undefined);
}

async function runCycle(
  ctx: CycleContext,
  command: CycleCommand,
  revision: string | undefined,
  options: DeployOptions = {},
): Promise<void> {
  const { config, reporter } = ctx;
  const started = Date.now();
  // Read before the lock so a corrupt state file (or another app's host) stops us before anything at all happens.
  refuseOtherAppName(config, loadState(config.deployRoot, config.appName, config.ports));
  prepareDeployRoot(config);
  const lockStep = reporter.step('lock');
  const lockAsked = Date.now();
  let waitedForWatcher = false;
  const lock = await lockAfterWatcher(
    config,
    command,
    ctx.deployer,
    (ctx.cliEnv ?? ctx.env).SWITCHYARD_FLEET_ID,
    reporter,
    () => (waitedForWatcher = true),
  );
  const lockWaited = Date.now() - lockAsked;
  const log = startDeployLog(config.deployRoot, reporter, `# switchyard ${command}${revision ? ` ${revision}` : ''} by ${ctx.deployer} at ${new Date(started).toISOString()} (pid ${process.pid})`);
  if (lock.takenOver) reporter.warn(describeTakeover(lock.takenOver));
  lockStep.done(`held by pid ${process.pid}${waitedForWatcher ? `, after waiting ${formatDuration(lockWaited)} for the bake window's watcher to release it` : ''}`);
  const traffic = createSwitch(config, { phase: ctx.atPhase });
  const processes = ctx.processes ?? createSlotProcesses(config, ctx.env);
  ctx = { ...ctx, processes };
  try {
    await ctx.atPhase?.('locked');
    const { state, recovered } = await reconcile(ctx, traffic, loadState(config.deployRoot, config.appName, config.ports), command);
    const canaryEnded = await actDuringCanary(ctx, state, command, revision);
    if (canaryEnded) {
      reporter.success(canaryEnded);
      return;
    }
    const previous = state.live;
    const target: SlotName = previous ? otherSlot(previous) : state.next_deploy;
    const run: Run = { command, target, previous, commit: null, revision, reuse: command !== 'deploy', warm: false, recovers: recovered, rebuild: options.rebuild, cold: options.cold, releaseCmd: options.releaseCmd, canary: command === 'deploy' ? (options.canary ?? config.canaryShare) : 0, started, options, logId: log?.id, buildDir: null };
    await runSteps(run, { ctx, store: new StateStore(config.deployRoot, state, reporter.redactor), traffic, processes }, async () => {
      const chosen: Chosen | undefined = command === 'rollback' ? await chooseRollbackRelease(config, state, target, revision) : command === 'restart' ? chooseLiveRelease(config, state) : undefined;
      const commit = chosen?.commit ?? null;
      const warm = mayBeWarm(state, command, target, commit) && (await slotAnswers(config, processes, target)) === true;
      // Fail before building anything when a process we did not start holds the idle slot's port (or socket).
      if (!warm && (await processes.runningPid(target)) === undefined) await refuseTakenEndpoints(config, target);
      return { commit, buildDir: chosen?.buildDir ?? null, warm };
    });
  } finally {
    releaseLock(lock);
  }
}

/** From the lock on, everything the reporter prints is also kept in DEPLOY_ROOT/deploys/<id>.log; a log that cannot be opened only costs a warning. */
function startDeployLog(deployRoot: string, reporter: Reporter, header: string): DeployLog | undefined {
  try {
    const log = openDeployLog(deployRoot);
    log.write(header);
    reporter.teeTo(log.write);
    return log;
  } catch (error) {
    reporter.warn(`this run's output is not kept on the host: ${(error as Error).message}`);
    return undefined;
  }
}
