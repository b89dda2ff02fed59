import type { Config, SlotName } from './config.ts';
import { formatDuration } from './duration.ts';
import { SwitchyardError, withContext } from './errors.ts';
import { cacheDir, checkoutSlot, fetchRepo, resolveCommit } from './git.ts';
import { isAlive } from './process.ts';
import { describeProbe, healthUrl, probe, refuseTakenPort, waitUntilHealthy } from './health.ts';
import { acquireLock, currentUser, releaseLock } from './lock.ts';
import type { Reporter, Step } from './output.ts';
import { assessHost, reconciledState, type HostFacts } from './reconcile.ts';
import { runShell } from './run.ts';
import { createSlotProcesses, type SlotProcesses } from './process-manager.ts';
import { SLOTS, slotDir } from './slots.ts';
import { waitForNoConnections } from './connections.ts';
import { prepareDeployRoot } from './deploy-root.ts';
import { loadState, otherSlot, saveState, type HistoryEntry, type State } from './state.ts';
import { createSwitch, type SlotTarget, type TrafficSwitch } from './switch/index.ts';

/**
 * The deploy and rollback flows. Each phase is journaled in the state before it runs, so a command
 * killed at any moment leaves a host the next command can read and put right (see reconcile.ts).
 */

export type HookRunner = (name: string, facts: Record<string, string>) => Promise<void>;

export type CycleContext = {
  config: Config;
  reporter: Reporter;
  /** Environment for the app and the commands it runs (the operator's, without Switchyard's settings). */
  env: Record<string, string | undefined>;
  /** Aborted by Ctrl-C, SIGTERM or an SSH hang-up. */
  signal: AbortSignal;
  hooks?: HookRunner;
  /** Test-only fault injection: called as each phase begins. */
  atPhase?: (phase: string) => Promise<void> | void;
  /** Defaults to PROCESS_MANAGER's. */
  processes?: SlotProcesses;
};

type Command = 'deploy' | 'rollback';

export async function deploy(ctx: CycleContext, revision: string | undefined): Promise<void> {
  await runCycle(ctx, 'deploy', revision);
}

export async function rollback(ctx: CycleContext): Promise<void> {
  await runCycle(ctx, 'rollback', undefined);
}

async function runCycle(ctx: CycleContext, command: Command, revision: string | undefined): Promise<void> {
  const { config, reporter } = ctx;
  const started = Date.now();
  // Read before the lock so a corrupt state file stops us before anything at all happens.
  loadState(config.deployRoot, config.appName, config.ports);
  prepareDeployRoot(config);
  const lockStep = reporter.step('lock');
  const lock = acquireLock(config.deployRoot, command, currentUser(ctx.env));
  if (lock.takenOver) reporter.warn(`took over a stale lock left by pid ${lock.takenOver.pid} (${lock.takenOver.command} by ${lock.takenOver.user}, started ${lock.takenOver.startedAt}), which is no longer running`);
  lockStep.done(`held by pid ${process.pid}`);
  const traffic = createSwitch(config, { phase: ctx.atPhase });
  ctx = { ...ctx, processes: ctx.processes ?? createSlotProcesses(config, ctx.env) };
  try {
    await ctx.atPhase?.('locked');
    let state = await reconcile(ctx, traffic, loadState(config.deployRoot, config.appName, config.ports));
    const live = state.live;
    const target: SlotName = live ? otherSlot(live) : state.next_deploy;
    const flow = new Flow(ctx, traffic, command, target, live, started);
    await flow.run(state, revision);
  } finally {
    releaseLock(lock);
  }
}

/** Make the state match the host before acting; reports every disagreement it puts right. */
export async function reconcile(ctx: CycleContext, traffic: TrafficSwitch, state: State): Promise<State> {
  const processes = ctx.processes ?? createSlotProcesses(ctx.config, ctx.env);
  const facts = await gatherFacts(ctx.config, traffic, processes, state);
  const assessment = assessHost(state, facts);
  if (assessment.findings.length === 0) return state;
  const step = ctx.reporter.step('recover');
  for (const finding of assessment.findings) ctx.reporter.warn(finding);
  // Traffic first: a leftover is only stopped once nginx surely points at the slot that stays.
  if (assessment.reswitch && assessment.live) {
    const live = assessment.live;
    const standby = otherSlot(live);
    await traffic.moveTo(
      { slot: live, port: ctx.config.ports[live], commit: state.slots[live].commit },
      { slot: standby, port: ctx.config.ports[standby], commit: state.slots[standby].commit },
      (message) => ctx.reporter.info(`  ${message}`),
    );
  }
  for (const slot of assessment.stop) {
    const outcome = await processes.stop(slot);
    ctx.reporter.info(`  stopped the leftover process of slot ${slot} (${outcome.result})`);
  }
  const next = reconciledState(state, facts, assessment);
  saveState(ctx.config.deployRoot, next);
  step.done(`slot ${next.live ?? 'none'} is live`);
  return next;
}

/** What really runs on the host; `state` only tells whether the command its journal names is still alive. */
export async function gatherFacts(config: Config, traffic: TrafficSwitch, processes: SlotProcesses, state: State): Promise<HostFacts> {
  const slots = {} as HostFacts['slots'];
  for (const slot of SLOTS) {
    const runningPid = await processes.runningPid(slot);
    const healthy = runningPid !== undefined && (await probe(healthUrl(config.host, config.ports[slot], config.healthPath), 2000)).ok;
    slots[slot] = { runningPid, healthy };
  }
  const holder = state.journal?.pid;
  return { slots, upstreamPort: traffic.currentPort(), journalHolderAlive: holder !== undefined && holder !== process.pid && isAlive(holder) };
}

class Flow {
  private state!: State;
  private startedNewSlot = false;
  private switched = false;
  private commit: string | null = null;

  constructor(
    private readonly ctx: CycleContext,
    private readonly traffic: TrafficSwitch,
    private readonly command: Command,
    private readonly target: SlotName,
    private readonly live: SlotName | null,
    private readonly started: number,
  ) {}

  private get config() {
    return this.ctx.config;
  }

  private get processes(): SlotProcesses {
    return this.ctx.processes!;
  }

  private save(): void {
    saveState(this.config.deployRoot, this.state);
  }

  /** Journal the phase, then let the fault injector act on it. */
  private async phase(name: string): Promise<void> {
    if (this.ctx.signal.aborted && !this.switched) throw interruption(this.ctx.signal);
    this.state.journal = { command: this.command, pid: process.pid, slot: this.target, phase: name, startedAt: new Date(this.started).toISOString() };
    this.save();
    await this.ctx.atPhase?.(name);
  }

  private facts(extra: Record<string, string> = {}): Record<string, string> {
    return {
      COMMAND: this.command,
      SLOT: this.target,
      PORT: String(this.config.ports[this.target]),
      COMMIT: this.commit ?? '',
      PREVIOUS_COMMIT: (this.live && this.state.slots[this.live].commit) || '',
      PREVIOUS_SLOT: this.live ?? '',
      APP_DIR: slotDir(this.config, this.target),
      APP_NAME: this.config.appName,
      DEPLOY_ROOT: this.config.deployRoot,
      ...extra,
    };
  }

  private async hook(name: string, extra: Record<string, string> = {}): Promise<void> {
    if (!this.ctx.hooks) return;
    try {
      await this.ctx.hooks(name, this.facts(extra));
    } catch (error) {
      if (!this.switched) throw error;
      this.ctx.reporter.warn(`hook ${name} failed after the switch (the switch stands): ${(error as Error).message}`);
    }
  }

  async run(state: State, revision: string | undefined): Promise<void> {
    this.state = state;
    const { reporter } = this.ctx;
    try {
      if (this.command === 'rollback') this.checkRollbackTarget();
      await this.checkTargetPort();
      await this.hook('begin');
      if (this.command === 'deploy') await this.build(revision);
      await this.startAndCheck();
      await this.switchTraffic();
      await this.drainPrevious();
      await this.record('success');
      await this.hook('end');
      const kept = this.live && this.state.slots[this.live].commit ? `; slot ${this.live} (${short(this.state.slots[this.live].commit)}) kept for rollback` : '';
      const verb = this.command === 'deploy' ? 'deployed' : 'rolled back to';
      reporter.success(`${verb} ${short(this.commit)} on slot ${this.target} (port ${this.config.ports[this.target]}) in ${formatDuration(Date.now() - this.started)}${kept}`);
    } catch (error) {
      await this.cleanUpAfterFailure(error);
      throw this.explain(error);
    }
  }

  private async build(revision: string | undefined): Promise<void> {
    const { reporter } = this.ctx;
    const cache = cacheDir(this.config.deployRoot);
    const dir = slotDir(this.config, this.target);
    
    await this.phase('resolve');
    let step = reporter.step('fetch');
    await fetchRepo(this.config.repo, cache, { signal: this.ctx.signal });
    this.commit = await resolveCommit(cache, revision ?? `refs/heads/${this.config.branch}`);
    step.done(`${revision ?? this.config.branch} → ${short(this.commit)}`);

    await this.hook('pre_checkout');
    await this.phase('checkout');
    // The idle slot's previous build is about to be replaced: until the new one is complete, it holds none.
    Object.assign(this.state.slots[this.target], { commit: null, builtAt: null, pid: null, startedAt: null });
    this.save();
    if (await this.processes.runningPid(this.target)) await this.processes.stop(this.target);
    step = reporter.step('checkout');
    await checkoutSlot(cache, dir, this.commit, { signal: this.ctx.signal });
    step.done(`slot ${this.target} at ${short(this.commit)} in ${dir}`);

    await this.hook('pre_install');
    await this.phase('install');
    step = reporter.step('install');
    if (this.config.installCmd.trim()) {
      await this.runStreamed(this.config.installCmd, dir, 'install', step);
      step.done(this.config.installCmd);
    } else step.done('skipped (INSTALL_CMD is empty)');

    await this.phase('build');
    step = reporter.step('build');
    if (this.config.buildCmd.trim()) {
      await this.runStreamed(this.config.buildCmd, dir, 'build', step);
      step.done(this.config.buildCmd);
    } else step.done('skipped (BUILD_CMD is empty)');
    Object.assign(this.state.slots[this.target], { commit: this.commit, builtAt: new Date().toISOString() });
    this.save();
    await this.hook('post_install');
  }

  /**
   * A configured command with its output streamed under the step. A silent command still shows it is
   * alive every 5 s (SSH sessions and hook logs cannot see a spinner), and never more often.
   */
  private async runStreamed(command: string, dir: string, label: string, step: Step): Promise<void> {
    let lastLine = Date.now();
    const heartbeat = setInterval(() => {
      if (Date.now() - lastLine >= 5000) step.progress('still running, no output for 5s');
    }, 5000);
    try {
      await runShell(command, {
        cwd: dir,
        env: this.ctx.env,
        signal: this.ctx.signal,
        onLine: (line) => {
          lastLine = Date.now();
          return line.trim() ? this.ctx.reporter.output(label, line) : undefined;
        },
      });
    } finally {
      clearInterval(heartbeat);
    }
  }

  private checkRollbackTarget(): void {
    const slot = this.state.slots[this.target];
    if (!this.live) {
      throw new SwitchyardError('nothing to roll back: no slot is live yet', { untouched: 'nothing was changed', next: 'deploy first with ./deploy.ts deploy' });
    }
    if (!slot.commit) {
      throw new SwitchyardError(`cannot roll back: slot ${this.target} holds no complete build`, {
        untouched: `slot ${this.live} stays live`,
        next: 'deploy the commit you want with ./deploy.ts deploy <commit>',
      });
    }
    this.commit = slot.commit;
  }

  /** Fail before building anything when a process we did not start holds the idle slot's port. */
  private async checkTargetPort(): Promise<void> {
    if ((await this.processes.runningPid(this.target)) === undefined) await refuseTakenPort(this.config.host, this.config.ports[this.target], `slot ${this.target}`);
  }

  private async startAndCheck(): Promise<void> {
    const { reporter } = this.ctx;
    const port = this.config.ports[this.target];
    await this.phase('start');
    await this.hook('pre_start');
    if (await this.processes.runningPid(this.target)) await this.processes.stop(this.target);
    await refuseTakenPort(this.config.host, port, `slot ${this.target}`);
    let step = reporter.step('start');
    const pid = await this.processes.start(this.target);
    this.startedNewSlot = true;
    Object.assign(this.state.slots[this.target], { pid, startedAt: new Date().toISOString() });
    this.save();
    step.done(`slot ${this.target} on port ${port} (pid ${pid}): ${this.config.startCmd}`);
    await this.hook('post_start');

    await this.phase('health');
    step = reporter.step('health');
    const url = healthUrl(this.config.host, port, this.config.healthPath);
    const result = await waitUntilHealthy(url, {
      timeoutMs: this.config.healthTimeoutMs,
      hasExited: () => this.processes.hasExited(this.target),
      onWait: (elapsed, last) => step.progress(`waiting for ${url} (last: ${describeProbe(last)})`),
      signal: this.ctx.signal,
    });
    if (!result.healthy) {
      step.fail();
      if (this.ctx.signal.aborted) throw interruption(this.ctx.signal);
      const why = result.exited
        ? `the app exited during boot`
        : `${url} did not answer 2xx within ${formatDuration(this.config.healthTimeoutMs)} (last: ${describeProbe(result.last)})`;
      throw new SwitchyardError(`slot ${this.target} failed its health check: ${why}`, { details: this.logTail() });
    }
    step.done(`${url} answered 2xx`);
    await this.hook('running');
  }

  private logTail(): string[] {
    return this.processes.logTail(this.target, 20).map((line) => `log: ${line}`);
  }

  private async switchTraffic(): Promise<void> {
    const { reporter } = this.ctx;
    await this.phase('switch');
    const step = reporter.step('switch');
    // Whatever happened since the health check (a crash, someone's `stop`), traffic only moves to a slot that answers now.
    const before = await this.slotAnswers(this.target);
    if (before !== true) throw new SwitchyardError(`slot ${this.target} no longer answers (${before}), so traffic was not moved to it`, { details: this.logTail() });
    const live = { slot: this.target, port: this.config.ports[this.target], commit: this.commit };
    const previous = this.live ? { slot: this.live, port: this.config.ports[this.live], commit: this.state.slots[this.live].commit } : null;
    const detail = await this.traffic.moveTo(live, previous, (message) => step.progress(message));
    this.switched = true;
    const after = await this.slotAnswers(this.target);
    if (after !== true) await this.moveBack(live, previous, after);
    this.state.live = this.target;
    this.state.next_deploy = otherSlot(this.target);
    this.save();
    step.done(detail);
  }

  /** true, or why not: the slot's process runs and its health URL answers 2xx right now. */
  private async slotAnswers(slot: SlotName): Promise<true | string> {
    if ((await this.processes.runningPid(slot)) === undefined) return 'its process is not running';
    const result = await probe(healthUrl(this.config.host, this.config.ports[slot], this.config.healthPath), 2000);
    return result.ok ? true : `health: ${describeProbe(result)}`;
  }

  /** The new slot died during the switch: put traffic back on the previous slot while it still runs. */
  private async moveBack(live: SlotTarget, previous: SlotTarget | null, why: string): Promise<never> {
    const details = this.logTail();
    if (!previous || (await this.slotAnswers(previous.slot)) !== true) {
      throw new SwitchyardError(`slot ${this.target} stopped answering right after the switch (${why}) and no previous slot is running to go back to`, { details });
    }
    await this.traffic.moveTo(previous, live, (message) => this.ctx.reporter.info(`  ${message}`));
    this.switched = false;
    throw new SwitchyardError(`slot ${this.target} stopped answering right after the switch (${why}); traffic was moved back to slot ${previous.slot}`, { details });
  }

  private async drainPrevious(): Promise<void> {
    const { reporter } = this.ctx;
    await this.phase('drain');
    if (!this.live) return;
    const old = this.live;
    const port = this.config.ports[old];
    const step = reporter.step('drain');
    let atSignal = 0;
    let atProxy = '';
    if (this.traffic.drainsAtProxy) {
      // No new request reaches the old slot any more: wait for the ones in flight to end before any
      // signal, so an app without a SIGTERM handler loses nothing and no request runs twice.
      const drained = await waitForNoConnections(port, this.config.stopTimeoutMs, (open, elapsed) =>
        step.progress(`${open} connection(s) from nginx still open to slot ${old} (${formatDuration(elapsed)})`),
      );
      atSignal = drained.openAtEnd;
      const how = drained.openAtEnd === 0
        ? `${drained.openAtStart} connection(s) from nginx to slot ${old} closed in ${formatDuration(drained.waitedMs)}`
        : `${drained.openAtEnd} of ${drained.openAtStart} connection(s) to slot ${old} still open after STOP_TIMEOUT (${formatDuration(this.config.stopTimeoutMs)})`;
      atProxy = `${how}; `;
      if (drained.openAtEnd > 0) reporter.warn(`${how}: sending SIGTERM anyway; requests still running there depend on the app's own graceful shutdown`);
    }
    await this.hook('pre_stop', { STOP_SLOT: old });
    const outcome = await this.processes.stop(old, () => step.progress(`slot ${old} is still draining`));
    Object.assign(this.state.slots[old], { pid: null, startedAt: null });
    this.save();
    if (outcome.result === 'killed') {
      reporter.warn(`slot ${old} did not exit within STOP_TIMEOUT (${formatDuration(this.config.stopTimeoutMs)}) after SIGTERM and was killed with SIGKILL`);
    }
    if (outcome.result === 'exited' && outcome.waitedMs < 100 && atSignal > 0) {
      reporter.warn(`slot ${old} exited ${formatDuration(outcome.waitedMs)} after SIGTERM with ${atSignal} connection(s) open: it has no graceful shutdown, so those requests were cut (see graceful/README.md)`);
    }
    const how = { exited: `exited ${formatDuration(outcome.waitedMs)} after SIGTERM`, killed: 'killed with SIGKILL', 'not-running': 'was not running' }[outcome.result];
    step.done(`${atProxy}slot ${old} ${how}`);
    await this.hook('post_stop', { STOP_SLOT: old });
  }

  private async record(outcome: HistoryEntry['outcome'], reason?: string): Promise<void> {
    await this.phase('record').catch(() => undefined);
    const entry: HistoryEntry = {
      at: new Date(this.started).toISOString(),
      user: currentUser(this.ctx.env),
      command: this.command,
      slot: this.target,
      commit: this.commit,
      previousCommit: (this.live && this.state.slots[this.live].commit) || null,
      outcome,
      durationMs: Date.now() - this.started,
      ...(reason ? { reason } : {}),
    };
    this.state.history.push(entry);
    this.state.journal = null;
    this.save();
  }

  /** Before the switch: stop what we started, the live slot is untouched. After it: the new slot stays live. */
  private async cleanUpAfterFailure(error: unknown): Promise<void> {
    const { reporter } = this.ctx;
    if (!this.switched && this.startedNewSlot) {
      try {
        const outcome = await this.processes.stop(this.target);
        Object.assign(this.state.slots[this.target], { pid: null, startedAt: null });
        reporter.info(`  stopped the new slot ${this.target} (${outcome.result})`);
      } catch (stopError) {
        reporter.warn(`could not stop the new slot ${this.target}: ${(stopError as Error).message}; the next deploy stops it`);
      }
    }
    const interrupted = this.ctx.signal.aborted;
    const reason = error instanceof Error ? error.message : String(error);
    try {
      await this.record(interrupted ? 'interrupted' : 'failed', reason);
    } catch (saveError) {
      reporter.warn(`could not record the failure in the state file: ${(saveError as Error).message}`);
    }
    await this.hook('failed', { REASON: reason }).catch((hookError) => reporter.warn(`hook failed failed: ${(hookError as Error).message}`));
  }

  private explain(error: unknown): SwitchyardError {
    if (this.ctx.signal.aborted && !this.switched) {
      const live = this.live ? `slot ${this.live} (${short(this.state.slots[this.live].commit)}) is still live and serving` : 'no slot was live';
      return new SwitchyardError(`${this.command} interrupted by ${String(this.ctx.signal.reason ?? 'a signal')}: stopped what it had started`, {
        untouched: `${live}; the lock was released`,
        next: `run ./deploy.ts ${this.command} again when ready`,
        cause: error,
        exitCode: 130,
      });
    }
    const liveText = this.live ? `slot ${this.live} (${short(this.state.slots[this.live].commit)}) is still live and serving` : '';
    if (this.switched) {
      return withContext(error, `${this.command} switched traffic to slot ${this.target} but did not finish`, {
        untouched: `slot ${this.target} (${short(this.commit)}) is live`,
        next: 'run ./deploy.ts status to see what is left, then deploy or rollback again',
      });
    }
    const base = error instanceof SwitchyardError ? error : withContext(error, `${this.command} failed`);
    return new SwitchyardError(`${this.command} failed: ${base.message}`, {
      untouched: [liveText, base.untouched ?? (liveText ? 'nothing else was changed' : 'no slot was live before')].filter(Boolean).join('; '),
      next: base.next ?? 'fix the cause above and run the command again',
      details: base.details,
      cause: error,
      exitCode: base.exitCode,
    });
  }
}

function interruption(signal: AbortSignal): SwitchyardError {
  return new SwitchyardError(`interrupted by ${String(signal.reason ?? 'a signal')}`, { exitCode: 130 });
}

export function short(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : 'nothing';
}
