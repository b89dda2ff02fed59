import type { Step } from '../cli/reporter.ts';
import type { Config, SlotName } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { runShell } from '../host/run.ts';
import type { StateStore } from '../record/store.ts';
import { shortCommit } from '../record/state-shape.ts';
import { journaled } from '../record/transitions.ts';
import { describeEndpoints, portValue, slotEndpoints } from '../slot/endpoints.ts';
import { describeProbe, probeSlot } from '../slot/health.ts';
import type { SlotProcesses } from '../slot/process-manager.ts';
import { slotDir } from '../slot/slots.ts';
import type { TrafficSwitch } from '../traffic/index.ts';
import { cleanUpAfterFailure, explainFailure, interruption } from './failure.ts';
import { FLOW_STEPS } from './step-table.ts';
import { openBaseline, type BaselineLog } from './baseline.ts';
import { effectsAfter, NO_EFFECTS, StepFailure } from './step-outcome.ts';
import { STEP_FUNCTIONS } from './steps/index.ts';
import type { CycleContext, Effect, Effects, Run, StepIo, StreamedExtra } from './types.ts';

/**
 * Walks the step table for one run: for each step that applies (decided as the run learns, e.g. the
 * commit at fetch), its `before` hook, its phase journaled in the state, the step, its `after` hook.
 * A command killed at any moment leaves a journal the next command reads and puts right (recover.ts).
 */
export async function runSteps(
  initial: Run,
  deps: { ctx: CycleContext; store: StateStore; traffic: TrafficSwitch; processes: SlotProcesses },
  /** Decides what the command starts (a rollback's release, a warm slot) inside the run, so a refusal is recorded and explained as the run's failure. */
  prelude: () => Promise<Partial<Pick<Run, 'commit' | 'buildDir' | 'warm'>>>,
): Promise<void> {
  let run = initial;
  let effects = NO_EFFECTS;
  const io = stepIo(deps, () => run, () => effects, (happened) => (effects = effectsAfter(effects, happened)));
  const { reporter } = io;
  const phase = journalPhase(() => run, io);
  let baseline: BaselineLog | undefined;
  try {
    run = { ...run, ...(await prelude()) };
    if (run.warm) reporter.info(`  slot ${run.target} still runs ${shortCommit(run.commit)} (bake window): nothing to start`);
    baseline = await openBaseline(run, io);
    await io.hook('begin');
    for (const step of FLOW_STEPS) {
      if (!step.applies(run, io.config)) continue;
      if (step.before) await io.hook(step.before);
      // The old slot's figures end where the new slot's begin; the port is free again for the watcher.
      if (step.name === 'switch' && baseline) {
        run = { ...run, baseline: baseline.take() };
        await baseline.close();
      }
      await phase(step.name);
      run = { ...run, ...(await STEP_FUNCTIONS[step.name](run, io)) };
      if (step.after) await io.hook(step.after);
    }
    await io.hook('end');
    reporter.success(successLine(run, io));
  } catch (error) {
    if (error instanceof StepFailure) run = { ...run, ...error.learnt };
    await baseline?.close();
    const liveSentence = await cleanUpAfterFailure(run, io, error, () => phase('record'));
    throw explainFailure(run, io, error, liveSentence);
  } finally {
    await baseline?.close();
  }
}

function successLine(run: Run, io: StepIo): string {
  if (run.canaryLine) return `canary of ${shortCommit(run.commit)} on slot ${run.target} in ${formatDuration(Date.now() - run.started)}: ${run.canaryLine}`;
  const state = io.store.state;
  const previous = run.previous && state.slots[run.previous].commit ? `slot ${run.previous} (${shortCommit(state.slots[run.previous].commit)})` : '';
  const kept = !previous ? '' : run.baking ? `; ${previous} ${run.baking}` : `; ${previous} kept for rollback`;
  const verb = { deploy: 'deployed', rollback: 'rolled back to', restart: 'restarted' }[run.command];
  return `${verb} ${shortCommit(run.commit)} on slot ${run.target} (${describeEndpoints(slotEndpoints(io.config, run.target))}) in ${formatDuration(Date.now() - run.started)}${kept}`;
}

/** Journal the phase, then let the fault injector act on it. */
function journalPhase(current: () => Run, io: StepIo): (name: string) => Promise<void> {
  return async (name) => {
    const run = current();
    if (io.ctx.signal.aborted && !io.effects.switched) throw interruption(io.ctx.signal);
    io.store.apply(
      journaled({
        command: run.command,
        pid: process.pid,
        slot: run.target,
        phase: name,
        startedAt: new Date(run.started).toISOString(),
      }),
    );
    await io.ctx.atPhase?.(name);
  };
}

/** The StepIo of one run: hooks see the run's facts as they are when the hook runs. */
function stepIo(
  { ctx, store, traffic, processes }: { ctx: CycleContext; store: StateStore; traffic: TrafficSwitch; processes: SlotProcesses },
  current: () => Run,
  effects: () => Effects,
  effect: (happened: Effect) => void,
): StepIo {
  const { config, reporter } = ctx;
  const io: StepIo = {
    ctx,
    config,
    reporter,
    processes,
    traffic,
    store,
    get effects() {
      return effects();
    },
    effect,
    async hook(name, extra = {}) {
      if (!ctx.hooks) return;
      store.flush();
      try {
        await ctx.hooks(name, { ...hookFacts(current(), io), ...extra });
      } catch (error) {
        if (!io.effects.switched && !io.effects.canaryHandedOver) throw error;
        reporter.warn(`hook ${name} failed after the switch (the switch stands): ${(error as Error).message}`);
      }
    },
    runStreamed: (command, dir, label, step, extra) => runStreamed(ctx, command, dir, label, step, extra),
    facts: () => hookFacts(current(), io),
    slotAnswers: (slot) => slotAnswers(config, processes, slot),
    logTail: () => processes.logTail(current().target, 20).map((line) => `log: ${line}`),
  };
  return io;
}

/** true, or why not: the slot's process runs and its health URL answers 2xx right now. */
export async function slotAnswers(config: Config, processes: SlotProcesses, slot: SlotName): Promise<true | string> {
  if ((await processes.runningPid(slot)) === undefined) return 'its process is not running';
  const result = await probeSlot(config, slot);
  return result.ok ? true : `health: ${describeProbe(result)}`;
}

function hookFacts(run: Run, io: StepIo): Record<string, string> {
  const state = io.store.state;
  return {
    COMMAND: run.command,
    SLOT: run.target,
    PORT: portValue(slotEndpoints(io.config, run.target)[0]),
    COMMIT: run.commit ?? '',
    PREVIOUS_COMMIT: (run.previous && state.slots[run.previous].commit) || '',
    PREVIOUS_SLOT: run.previous ?? '',
    APP_DIR: run.buildDir ?? slotDir(io.config, run.target),
    APP_NAME: io.config.appName,
    DEPLOY_ROOT: io.config.deployRoot,
  };
}

/**
 * A configured command with its output streamed under the step. A silent command still shows it is
 * alive every 5 s (SSH sessions and hook logs cannot see a spinner), and never more often.
 */
async function runStreamed(
  ctx: CycleContext,
  command: string,
  dir: string,
  label: string,
  step: Step,
  extra: StreamedExtra = {},
): Promise<void> {
  let lastLine = Date.now();
  const heartbeat = setInterval(() => {
    if (Date.now() - lastLine >= 5000) step.progress('still running, no output for 5s');
  }, 5000);
  try {
    await runShell(command, {
      cwd: dir,
      env: { ...ctx.env, ...extra.env },
      signal: ctx.signal,
      timeoutMs: extra.timeoutMs,
      onLine: (line) => {
        lastLine = Date.now();
        return line.trim() ? ctx.reporter.output(label, line) : undefined;
      },
    });
  } finally {
    clearInterval(heartbeat);
  }
}
