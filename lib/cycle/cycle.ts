import { existsSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { bakeLogFile, startBakeWatcher } from './bake.ts';
import type { Config, SlotName } from '../config/config.ts';
import { prepareDeployRoot } from '../host/deploy-root.ts';
import { openDeployLog, type DeployLog } from '../record/deploy-log.ts';
import { waitForNoConnections } from '../slot/connections.ts';
import { drainAndStop } from '../slot/drain.ts';
import { formatDuration } from '../config/duration.ts';
import { SwitchyardError, withContext } from '../errors.ts';
import { cacheDir, checkoutSlot, fetchRepo, pruneWorktrees, resolveCommit } from '../release/git.ts';
import { describeEndpoint, describeEndpoints, portValue, slotEndpoints, type Endpoint } from '../slot/endpoints.ts';
import { describeProbe, describeTargets, endpointInUse, probeSlot, refuseTakenEndpoints, slotHealthTargets, waitUntilAllHealthy } from '../slot/health.ts';
import { acquireLockWaiting, currentUser, describeTakeover, releaseLock, type Lock, type LockHolder } from '../record/lock.ts';
import type { Reporter, Step } from '../cli/reporter.ts';
import { createSlotProcesses, type SlotProcesses } from '../slot/process-manager.ts';
import { reconcile } from './recover.ts';
import { installKey, linkSlot, releaseDir, removeRelease, reuseDependencies, slotTarget } from '../release/release-files.ts';
import { completeReleases, previousGoodCommit, releasesMatching, releasesToPrune } from '../release/releases.ts';
import { runShell } from '../host/run.ts';
import { linkSharedPaths, sharedRoot } from '../release/shared-paths.ts';
import { SLOTS, slotDir } from '../slot/slots.ts';
import { loadState, otherSlot, saveState, type CycleCommand, type HistoryEntry, type State } from '../record/state.ts';
import { FLOW_STEPS, type CycleFacts, type FlowStepName } from './steps.ts';
import { NginxNotRunningError } from '../traffic/nginx-running.ts';
import { createSwitch, drainsAtProxy, trafficTarget, type SlotTarget, type TrafficSwitch } from '../traffic/index.ts';

/**
 * The deploy, rollback and restart flows: each walks the step table (lib/cycle/steps.ts). Each step's name
 * is journaled in the state before it runs, so a command killed at any moment leaves a host the next
 * command can read and put right (see reconcile.ts).
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
  /** The caller's own environment (DEPLOY_ENV_FILE, overrides), for the detached bake-window watcher. */
  cliEnv?: Record<string, string | undefined>;
};

type Command = CycleCommand;
export type DeployOptions = { /** Build again even when the commit is a kept, complete release. */ rebuild?: boolean };

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

async function runCycle(ctx: CycleContext, command: Command, revision: string | undefined, options: DeployOptions = {}): Promise<void> {
  const { config, reporter } = ctx;
  const started = Date.now();
  // Read before the lock so a corrupt state file stops us before anything at all happens.
  loadState(config.deployRoot, config.appName, config.ports);
  prepareDeployRoot(config);
  const lockStep = reporter.step('lock');
  const lockAsked = Date.now();
  let waitedForWatcher = false;
  const lock = await lockAfterWatcher(config, command, currentUser(ctx.env), reporter, () => (waitedForWatcher = true));
  const lockWaited = Date.now() - lockAsked;
  const log = startDeployLog(config.deployRoot, reporter, `# switchyard ${command}${revision ? ` ${revision}` : ''} by ${currentUser(ctx.env)} at ${new Date(started).toISOString()} (pid ${process.pid})`);
  if (lock.takenOver) reporter.warn(describeTakeover(lock.takenOver));
  lockStep.done(`held by pid ${process.pid}${waitedForWatcher ? `, after waiting ${formatDuration(lockWaited)} for the bake window's watcher to release it` : ''}`);
  const traffic = createSwitch(config, { phase: ctx.atPhase });
  ctx = { ...ctx, processes: ctx.processes ?? createSlotProcesses(config, ctx.env) };
  try {
    await ctx.atPhase?.('locked');
    let state = await reconcile(ctx, traffic, loadState(config.deployRoot, config.appName, config.ports));
    const live = state.live;
    const target: SlotName = live ? otherSlot(live) : state.next_deploy;
    const flow = new Flow(ctx, traffic, command, target, live, started, log?.id);
    await flow.run(state, revision, options);
  } finally {
    releaseLock(lock);
  }
}

/**
 * The deploy lock. The bake window's watcher holds it only while it stops an old slot (a drain of a
 * few seconds, at most STOP_TIMEOUT twice): a command waits for that instead of failing with 75.
 */
function lockAfterWatcher(config: Config, command: Command, user: string, reporter: Reporter, onWait?: () => void): Promise<Lock> {
  let told = false;
  const whileWatcherHolds = (holder: LockHolder | undefined) => {
    if (holder?.command !== 'bake-watch') return false;
    onWait?.();
    if (!told) reporter.info(`  the bake window's watcher (pid ${holder.pid}) is stopping the old slot; waiting for it`);
    told = true;
    return true;
  };
  return acquireLockWaiting(config.deployRoot, command, user, whileWatcherHolds, { timeoutMs: 2 * config.stopTimeoutMs + 10_000, everyMs: 200 });
}

class Flow {
  private state!: State;
  private startedNewSlot = false;
  private switched = false;
  private commit: string | null = null;
  /** The folder the target slot will run: a release, or (for a build from before releases) the slot folder itself. */
  private buildDir: string | null = null;

  constructor(
    private readonly ctx: CycleContext,
    private readonly traffic: TrafficSwitch,
    private readonly command: Command,
    private readonly target: SlotName,
    private readonly live: SlotName | null,
    private readonly started: number,
    private readonly logId: string | undefined,
  ) {}
  private requested: string | undefined;
  private options: DeployOptions = {};
  /** The table's view of this command, refined as it runs. */
  private plan!: CycleFacts;
  /** How the success line describes the previous slot when the bake step handed it to the watcher. */
  private baking: string | undefined;

  private get config() {
    return this.ctx.config;
  }

  private get processes(): SlotProcesses {
    return this.ctx.processes!;
  }

  private save(): void {
    this.savePending = false;
    saveState(this.config.deployRoot, this.state);
  }

  /** A change saved with the next journal entry or before the next hook, whichever comes first. */
  private savePending = false;

  /**
   * For a change right before a step ends: the next thing the run does is journal a phase or run a
   * hook, and nothing outside this process happens in between, so a kill lands on the same state
   * either way, with one fsynced write fewer.
   */
  private saveWithNextPhase(): void {
    this.savePending = true;
  }

  /** Before a hook or the clean-up after a failure: what saveWithNextPhase left is written first. */
  private savePendingChange(): void {
    if (this.savePending) this.save();
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
      PORT: portValue(slotEndpoints(this.config, this.target)[0]),
      COMMIT: this.commit ?? '',
      PREVIOUS_COMMIT: (this.live && this.state.slots[this.live].commit) || '',
      PREVIOUS_SLOT: this.live ?? '',
      APP_DIR: this.buildDir ?? slotDir(this.config, this.target),
      APP_NAME: this.config.appName,
      DEPLOY_ROOT: this.config.deployRoot,
      ...extra,
    };
  }

  private async hook(name: string, extra: Record<string, string> = {}): Promise<void> {
    if (!this.ctx.hooks) return;
    this.savePendingChange();
    try {
      await this.ctx.hooks(name, this.facts(extra));
    } catch (error) {
      if (!this.switched) throw error;
      this.ctx.reporter.warn(`hook ${name} failed after the switch (the switch stands): ${(error as Error).message}`);
    }
  }

  async run(state: State, revision: string | undefined, options: DeployOptions): Promise<void> {
    this.state = state;
    this.requested = revision;
    this.options = options;
    const { reporter } = this.ctx;
    try {
      if (this.command === 'rollback') await this.chooseRollbackRelease(revision);
      if (this.command === 'restart') this.chooseLiveRelease();
      this.plan = { command: this.command, target: this.target, previous: this.live, commit: this.commit, revision, reuse: this.command !== 'deploy', warm: await this.isWarmTarget() };
      if (this.plan.warm) reporter.info(`  slot ${this.target} still runs ${short(this.commit)} (bake window): nothing to start`);
      else await this.checkTargetPort();
      await this.hook('begin');
      // The one table (lib/cycle/steps.ts): what applies is decided as the run learns (the commit at fetch).
      for (const step of FLOW_STEPS) {
        if (!step.applies(this.plan, this.config)) continue;
        if (step.before) await this.hook(step.before);
        await this.phase(step.name);
        await this.steps[step.name]();
        if (step.after) await this.hook(step.after);
      }
      this.pruneReleases();
      await this.hook('end');
      const previous = this.live && this.state.slots[this.live].commit ? `slot ${this.live} (${short(this.state.slots[this.live].commit)})` : '';
      const kept = !previous ? '' : this.baking ? `; ${previous} ${this.baking}` : `; ${previous} kept for rollback`;
      const verb = { deploy: 'deployed', rollback: 'rolled back to', restart: 'restarted' }[this.command];
      reporter.success(`${verb} ${short(this.commit)} on slot ${this.target} (${describeEndpoints(slotEndpoints(this.config, this.target))}) in ${formatDuration(Date.now() - this.started)}${kept}`);
    } catch (error) {
      await this.cleanUpAfterFailure(error);
      throw this.explain(error);
    }
  }

  /** What each step of the table does; the runner has journaled its phase before it is called. */
  private readonly steps: Record<FlowStepName, () => Promise<void>> = {
    fetch: () => this.fetch(),
    checkout: () => this.checkout(),
    install: () => this.install(),
    build: () => this.build(),
    start: () => this.start(),
    health: () => this.health(),
    switch: () => this.switchTraffic(),
    bake: () => this.handOffPrevious(),
    drain: () => this.drainPrevious(),
    record: () => this.recordSuccess(),
  };

  private async fetch(): Promise<void> {
    const revision = this.requested;
    const cache = cacheDir(this.config.deployRoot);
    const step = this.ctx.reporter.step('fetch');
    await fetchRepo(this.config.repo, cache, { signal: this.ctx.signal });
    this.commit = await resolveCommit(cache, revision ?? `refs/heads/${this.config.branch}`);
    this.plan.commit = this.commit;
    const dir = releaseDir(this.config, this.commit);
    this.buildDir = dir;
    const kept = this.state.releases?.[this.commit];
    this.plan.reuse = Boolean(kept?.complete && existsSync(dir) && !this.options.rebuild);
    if (this.plan.reuse) {
      step.done(`${revision ?? this.config.branch} → ${short(this.commit)}; release ${short(this.commit)} is kept (built ${kept!.builtAt}): no checkout, install or build (--rebuild to build it again)`);
      return;
    }
    const runningIt = [];
    for (const slot of SLOTS) if (this.state.slots[slot].commit === this.commit && (await this.processes.runningPid(slot)) !== undefined) runningIt.push(slot);
    if (kept && runningIt.length > 0) {
      step.fail();
      throw new SwitchyardError(`release ${short(this.commit)} runs on slot ${runningIt.join(' and ')}; rebuilding it would change the files under a running app`, {
        untouched: 'nothing was changed',
        next: `deploy it without --rebuild (it is started as kept), or deploy or roll back to another release first`,
      });
    }
    step.done(`${revision ?? this.config.branch} → ${short(this.commit)}`);
  }

  private async checkout(): Promise<void> {
    const commit = this.commit!;
    const dir = this.buildDir!;
    // Recorded as incomplete first: a deploy killed from here on leaves a release no command will start.
    this.state.releases = { ...this.state.releases, [commit]: { commit, builtAt: new Date().toISOString(), complete: false } };
    this.save();
    const step = this.ctx.reporter.step('checkout');
    await checkoutSlot(cacheDir(this.config.deployRoot), dir, commit, { signal: this.ctx.signal });
    const shared = linkSharedPaths(this.config, dir);
    step.done(`${short(commit)} in ${dir}${shared.length ? `; linked ${shared.length} shared path(s) from ${sharedRoot(this.config)}` : ''}`);
  }

  private installKey: string | undefined;

  private async install(): Promise<void> {
    const dir = this.buildDir!;
    const step = this.ctx.reporter.step('install');
    this.installKey = installKey(dir, this.config.installCmd);
    const key = this.installKey;
    const donor = key ? completeReleases(this.state).find((release) => release.installKey === key && release.commit !== this.commit && existsSync(releaseDir(this.config, release.commit))) : undefined;
    if (donor) {
      const linked = await reuseDependencies(releaseDir(this.config, donor.commit), dir, this.ctx.signal);
      step.done(`same lockfile as release ${short(donor.commit)}: ${linked ? 'its node_modules copied (copy-on-write where the filesystem can)' : 'it has no node_modules, nothing to install'}; ${this.config.installCmd} not run`);
    } else if (this.config.installCmd.trim()) {
      await this.runStreamed(this.config.installCmd, dir, 'install', step);
      step.done(this.config.installCmd);
    } else step.done('skipped (INSTALL_CMD is empty)');
  }

  private async build(): Promise<void> {
    const commit = this.commit!;
    const step = this.ctx.reporter.step('build');
    if (this.config.buildCmd.trim()) {
      await this.runStreamed(this.config.buildCmd, this.buildDir!, 'build', step);
      step.done(this.config.buildCmd);
    } else step.done('skipped (BUILD_CMD is empty)');
    this.state.releases = { ...this.state.releases, [commit]: { commit, builtAt: new Date().toISOString(), complete: true, ...(this.installKey ? { installKey: this.installKey } : {}) } };
    this.saveWithNextPhase();
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

  /**
   * The release a rollback starts: the kept one `revision` names (a unique SHA prefix, or a tag or
   * branch the local mirror resolves; nothing is fetched), else the previous good one.
   */
  private async chooseRollbackRelease(revision: string | undefined): Promise<void> {
    if (!this.live) {
      throw new SwitchyardError('nothing to roll back: no slot is live yet', { untouched: 'nothing was changed', next: 'deploy first with ./deploy.ts deploy' });
    }
    const legacy = this.legacyBuild();
    const available = (commit: string) => Boolean(this.state.releases?.[commit]?.complete && existsSync(releaseDir(this.config, commit))) || commit === legacy;
    let commit: string | undefined;
    if (revision) {
      const matches = releasesMatching(this.state, revision).filter((release) => available(release.commit));
      if (matches.length > 1) throw new SwitchyardError(`${JSON.stringify(revision)} names ${matches.length} kept releases (${matches.map((release) => short(release.commit)).join(', ')})`, { untouched: 'nothing was changed', next: 'give more characters of the commit' });
      commit = matches[0]?.commit ?? (legacy?.startsWith(revision.toLowerCase()) ? legacy : undefined);
      if (!commit) commit = await resolveCommit(cacheDir(this.config.deployRoot), revision).catch(() => undefined);
      if (!commit || !available(commit)) {
        const kept = completeReleases(this.state).map((release) => short(release.commit));
        throw new SwitchyardError(`${JSON.stringify(revision)} is not a kept release${kept.length ? ` (kept: ${kept.join(', ')})` : ''}`, {
          untouched: 'nothing was changed',
          next: `./deploy.ts releases lists them; to build that commit use ./deploy.ts deploy ${revision}`,
        });
      }
    } else {
      commit = previousGoodCommit(this.state, available);
      if (!commit) {
        throw new SwitchyardError('cannot roll back: no earlier good release is kept', {
          untouched: `slot ${this.live} stays live`,
          next: 'deploy the commit you want with ./deploy.ts deploy <commit>',
        });
      }
    }
    this.commit = commit;
    this.buildDir = commit === legacy && !this.state.releases?.[commit]?.complete ? slotDir(this.config, this.target) : releaseDir(this.config, commit);
  }

  /** The idle slot's own folder when it is a complete build from before releases were kept (not a symlink). */
  private legacyBuild(): string | undefined {
    const commit = this.state.slots[this.target].commit;
    const dir = slotDir(this.config, this.target);
    return commit && slotTarget(this.config, this.target) === dir && existsSync(dir) ? commit : undefined;
  }

  private chooseLiveRelease(): void {
    const commit = this.live ? this.state.slots[this.live].commit : null;
    const dir = this.live ? slotTarget(this.config, this.live) : undefined;
    if (!this.live || !commit || !dir) {
      throw new SwitchyardError('nothing to restart: no slot is live', { untouched: 'nothing was changed', next: 'deploy first with ./deploy.ts deploy' });
    }
    if (dir === slotDir(this.config, this.live)) {
      throw new SwitchyardError(`cannot restart: slot ${this.live} runs a build from before releases were kept (${dir}), which the other slot cannot share`, {
        untouched: 'nothing was changed',
        next: `deploy it once (./deploy.ts deploy ${short(commit)}) to keep it as a release, then restart`,
      });
    }
    if (!existsSync(dir)) {
      throw new SwitchyardError(`cannot restart: the live release's folder ${dir} is gone (deleted by hand?), so there is nothing to start again`, {
        untouched: `slot ${this.live} keeps running as it is`,
        next: `build it again with ./deploy.ts deploy ${short(commit)} (or roll back to a kept release)`,
      });
    }
    this.commit = commit;
    // The same folder the live slot runs, started on the other port.
    this.buildDir = realpathSync(dir);
  }

  /** A rollback to the slot the bake window keeps running, with the release asked for: a switch only. */
  private async isWarmTarget(): Promise<boolean> {
    const bake = this.state.bake;
    if (this.command !== 'rollback' || !bake || bake.previous !== this.target || this.state.slots[this.target].commit !== this.commit) return false;
    return (await this.slotAnswers(this.target)) === true;
  }

  /**
   * With BAKE_TIME, the previous slot is not drained before this command returns: after a deploy it
   * stays warm until the window ends (a rollback is then a switch only); after a rollback it is
   * drained and stopped at once, in the background. Either way by a detached watcher, recorded in the
   * state first so a crash at any point leaves a window the next command ends. The table runs this
   * step instead of `drain` when BAKE_TIME is set (not for restart, nor a first deploy).
   */
  private async handOffPrevious(): Promise<void> {
    if (!this.live) return;
    const step = this.ctx.reporter.step('bake');
    const deploy = this.command === 'deploy';
    const endsAt = new Date(Date.now() + (deploy ? this.config.bakeTimeMs : 0)).toISOString();
    this.state.bake = { previous: this.live, live: this.target, endsAt, watcherPid: null, autoRollback: deploy && this.config.autoRollback };
    this.save();
    const pid = startBakeWatcher(this.config, this.ctx.cliEnv ?? {});
    this.state.bake.watcherPid = pid;
    this.save();
    this.baking = deploy
      ? `stays warm for an instant rollback until ${endsAt} (BAKE_TIME ${formatDuration(this.config.bakeTimeMs)}; auto rollback ${this.config.autoRollback ? 'on' : 'off'}; watcher pid ${pid})`
      : `is drained and stopped in the background (watcher pid ${pid}, log ${bakeLogFile(this.config.deployRoot)})`;
    step.done(`slot ${this.live} ${this.baking}`);
  }

  /** Fail before building anything when a process we did not start holds the idle slot's port (or socket). */
  private async checkTargetPort(): Promise<void> {
    if ((await this.processes.runningPid(this.target)) === undefined) await refuseTakenEndpoints(this.config, this.target);
  }

  /**
   * A command ends a running bake window once it is about to change a slot (a command that fails
   * before that leaves the window, and its watcher, as they were); the watcher sees it gone and stands down.
   */
  private endBakeWindow(): void {
    if (!this.state.bake) return;
    this.state.bake = null;
    this.save();
  }

  private async start(): Promise<void> {
    this.endBakeWindow();
    const endpoints = slotEndpoints(this.config, this.target);
    if (await this.processes.runningPid(this.target)) {
      // Often the previous live slot (a bake window just ended): let nginx finish what it sent there first.
      if (drainsAtProxy(this.config.switchKind)) await waitForNoConnections(endpoints, this.config.stopTimeoutMs);
      await this.processes.stop(this.target);
    }
    this.pointSlotAtBuild();
    await refuseTakenEndpoints(this.config, this.target);
    const step = this.ctx.reporter.step('start');
    const pid = await this.processes.start(this.target);
    this.startedNewSlot = true;
    Object.assign(this.state.slots[this.target], { pid, startedAt: new Date().toISOString() });
    this.save();
    const pool = endpoints.length > 1 ? `${endpoints.length} processes, first ` : '';
    step.done(`slot ${this.target} on ${describeEndpoints(endpoints)} (${pool}pid ${pid}): ${this.config.startCmd}`);
  }

  private async health(): Promise<void> {
    const step = this.ctx.reporter.step('health');
    const targets = slotHealthTargets(this.config, this.target);
    const { result, target } = await waitUntilAllHealthy(targets, {
      timeoutMs: this.config.healthTimeoutMs,
      hasExited: () => this.processes.hasExited(this.target),
      onWait: (elapsed, last) => step.progress(`waiting for ${describeTargets(targets)} (last: ${describeProbe(last)})`),
      signal: this.ctx.signal,
    });
    if (!result.healthy) {
      step.fail();
      if (this.ctx.signal.aborted) throw interruption(this.ctx.signal);
      const held = result.exited ? await this.endpointAnswersSoon() : undefined;
      if (held) {
        // The start command is gone but its port answers: it put the app in the background itself.
        const where = describeEndpoint(held);
        throw new SwitchyardError(`slot ${this.target}'s START_CMD exited, yet something holds ${where}: the command daemonized the app (setsid, nohup, &, pm2 start), so Switchyard can neither watch nor stop it`, {
          untouched: `the escaped process still holds ${where}`,
          next: `run the app in the foreground in START_CMD (e.g. node server.js, pm2-runtime), then stop the escaped process (${held.kind === 'port' ? `ss -ltnp 'sport = :${held.port}'` : `ss -lxp | grep ${held.path}`}) and deploy again`,
          details: this.logTail(),
        });
      }
      const why = result.exited
        ? `the app exited during boot`
        : `${target.label} did not answer 2xx within ${formatDuration(this.config.healthTimeoutMs)} (last: ${describeProbe(result.last)})`;
      throw new SwitchyardError(`slot ${this.target} failed its health check: ${why}`, { details: this.logTail() });
    }
    step.done(`${describeTargets(targets)} answered 2xx`);
  }

  /** An endpoint of the target slot something answers on within 2 s (a daemonized app needs a moment to listen). */
  private async endpointAnswersSoon(): Promise<Endpoint | undefined> {
    const deadline = Date.now() + 2000;
    do {
      for (const endpoint of slotEndpoints(this.config, this.target)) if (await endpointInUse(this.config.host, endpoint)) return endpoint;
      await sleep(100);
    } while (Date.now() < deadline);
    return undefined;
  }

  /** The target slot's symlink now names the release it is about to run; the state says so first. */
  private pointSlotAtBuild(): void {
    const dir = this.buildDir!;
    const slot = this.state.slots[this.target];
    const legacyCommit = slot.commit;
    Object.assign(slot, { commit: this.commit, builtAt: this.state.releases?.[this.commit!]?.builtAt ?? slot.builtAt, pid: null, startedAt: null });
    this.save();
    if (linkSlot(this.config, this.target, dir, legacyCommit) === 'moved' && legacyCommit) {
      // A build from before releases, kept as one: it stays a rollback target.
      this.state.releases = { ...this.state.releases, [legacyCommit]: { commit: legacyCommit, builtAt: new Date().toISOString(), complete: true } };
      this.save();
    }
  }

  /** After a success: keep KEEP_RELEASES, the live one, the other slot's and the last good one. */
  private pruneReleases(): void {
    const available = (commit: string) => Boolean(this.state.releases?.[commit]?.complete);
    const lastGood = previousGoodCommit(this.state, available);
    const doomed = releasesToPrune(this.state, this.config.keepReleases, lastGood);
    if (doomed.length === 0) return;
    // Forgotten by the state first: a kill mid-removal leaves a folder no command will start.
    for (const commit of doomed) delete this.state.releases![commit];
    this.save();
    try {
      for (const commit of doomed) removeRelease(this.config, commit);
      void pruneWorktrees(cacheDir(this.config.deployRoot)).catch(() => undefined);
      this.ctx.reporter.info(`  pruned ${doomed.length} old release(s): ${doomed.map(short).join(', ')} (KEEP_RELEASES=${this.config.keepReleases})`);
    } catch (error) {
      this.ctx.reporter.warn(`could not remove an old release folder (${(error as Error).message}); the deploy stands; remove it by hand from ${releaseDir(this.config, '')}`);
    }
  }

  private logTail(): string[] {
    return this.processes.logTail(this.target, 20).map((line) => `log: ${line}`);
  }

  private async switchTraffic(): Promise<void> {
    this.endBakeWindow();
    const { reporter } = this.ctx;
    const step = reporter.step('switch');
    // Whatever happened since the health check (a crash, someone's `stop`), traffic only moves to a slot that answers now.
    const before = await this.slotAnswers(this.target);
    if (before !== true) throw new SwitchyardError(`slot ${this.target} no longer answers (${before}), so traffic was not moved to it`, { details: this.logTail() });
    const live = trafficTarget(this.config, this.target, this.commit);
    const previous = this.live ? trafficTarget(this.config, this.live, this.state.slots[this.live].commit) : null;
    const detail = await this.traffic.moveTo(live, previous, (message) => step.progress(message));
    this.switched = true;
    const after = await this.slotAnswers(this.target);
    if (after !== true) await this.moveBack(live, previous, after);
    this.state.live = this.target;
    this.state.next_deploy = otherSlot(this.target);
    this.saveWithNextPhase();
    step.done(detail);
  }

  /** true, or why not: the slot's process runs and its health URL answers 2xx right now. */
  private async slotAnswers(slot: SlotName): Promise<true | string> {
    if ((await this.processes.runningPid(slot)) === undefined) return 'its process is not running';
    const result = await probeSlot(this.config, slot);
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
    if (!this.live) return;
    const old = this.live;
    const step = this.ctx.reporter.step('drain');
    const detail = await drainAndStop({
      config: this.config,
      processes: this.processes,
      reporter: this.ctx.reporter,
      step,
      slot: old,
      atProxy: drainsAtProxy(this.config.switchKind),
      hook: (name) => this.hook(name, { STOP_SLOT: old }),
      stopped: () => {
        Object.assign(this.state.slots[old], { pid: null, startedAt: null });
        this.saveWithNextPhase();
      },
    });
    step.done(detail);
  }

  private async recordSuccess(): Promise<void> {
    await this.record('success');
  }

  /** The history entry; the journal is cleared with it. A failure records itself here too (after journaling `record`). */
  private async record(outcome: HistoryEntry['outcome'], reason?: string): Promise<void> {
    if (outcome !== 'success') await this.phase('record').catch(() => undefined);
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
      ...(this.requested !== undefined ? { requested: this.requested } : {}),
      ...(this.logId ? { log: this.logId } : {}),
    };
    this.state.history.push(entry);
    this.state.journal = null;
    this.save();
  }

  /** Before the switch: stop what we started, the live slot is untouched. After it: the new slot stays live. */
  private async cleanUpAfterFailure(error: unknown): Promise<void> {
    const { reporter } = this.ctx;
    this.savePendingChange();
    if (!this.switched && this.startedNewSlot) {
      try {
        // A switch that was undone (a failed SWITCH_CHECK_CMD) may have sent it requests: let them finish first.
        if (drainsAtProxy(this.config.switchKind)) await waitForNoConnections(slotEndpoints(this.config, this.target), this.config.stopTimeoutMs);
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
    // With nginx stopped the live slot runs, but nothing serves it: do not say it serves.
    const liveText = this.live ? `slot ${this.live} (${short(this.state.slots[this.live].commit)}) is still live${error instanceof NginxNotRunningError ? '' : ' and serving'}` : '';
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

function interruption(signal: AbortSignal): SwitchyardError {
  return new SwitchyardError(`interrupted by ${String(signal.reason ?? 'a signal')}`, { exitCode: 130 });
}

export function short(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : 'nothing';
}
