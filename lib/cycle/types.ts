import type { Config, SlotName } from '../config/config.ts';
import type { Reporter, Step } from '../cli/reporter.ts';
import type { StateStore } from '../record/store.ts';
import type { Baseline, CycleCommand } from '../record/state-shape.ts';
import type { SlotProcesses } from '../slot/process-manager.ts';
import type { TrafficSwitch } from '../traffic/index.ts';
import type { CycleFacts, ReleaseCmdChoice } from './step-table.ts';

/** The cycle's types, in one place: what a command hands the cycle, and what each step receives. */

export type HookRunner = (name: string, facts: Record<string, string>) => Promise<void>;

export type CycleContext = {
  config: Config;
  reporter: Reporter;
  /** Environment for the app and the commands it runs (the operator's, without Switchyard's settings). */
  env: Record<string, string | undefined>;
  /** Who runs the command (lib/host/deployer.ts), decided once by the command frame from the operator's environment. */
  deployer: string;
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

export type DeployOptions = {
  /** Build again even when the commit is a kept, complete release; without the install and build caches. */
  rebuild?: boolean;
  /** Build without the build cache (BUILD_CACHE_PATHS). */
  cold?: boolean;
  /** --release-cmd: RELEASE_CMD runs even though it ran for the commit; --no-release-cmd: it does not run (a fleet ran it on one host). */
  releaseCmd?: ReleaseCmdChoice;
  /** --canary N% (a share) or --no-canary (0); absent: CANARY. */
  canary?: number;
};

/**
 * The record of one run: what the command was asked, and what it has learnt so far. It is the step
 * table's facts (which steps apply) plus what the steps hand each other. A step receives it and
 * returns what it learnt (a RunChange), or throws a StepFailure that carries it (step-outcome.ts);
 * the runner merges that in before the next step, or before it records the failure.
 */
export type Run = CycleFacts & {
  /** The slot that was live when the command began (the table's `previous`). */
  readonly started: number;
  readonly options: DeployOptions;
  readonly logId: string | undefined;
  /** The folder the target slot will run: a release, or (for a build from before releases) the slot folder itself. */
  buildDir: string | null;
  /** The install cache's key of the new release, set by `install`, recorded by `build`. */
  installKey?: string;
  /** How the success line describes the previous slot once `bake` handed it to the watcher. */
  baking?: string;
  /** How the success line describes a canary the watcher now judges. */
  canaryLine?: string;
  /** nginx's figures for the previous slot before the switch, handed to the bake window's judgement. */
  baseline?: Baseline;
};

export type RunChange = Partial<Pick<Run, 'commit' | 'buildDir' | 'reuse' | 'installKey' | 'baking' | 'canaryLine' | 'baseline'>>;

/**
 * What happened on the host that the clean-up after a failure must know, even when the step that
 * did it throws before it returns: the new slot was started, traffic was moved to it.
 */
export type Effects = { startedNewSlot: boolean; switched: boolean; canaryBegun?: boolean; canaryHandedOver?: boolean };

/** One thing a step did on the host, reported through `io.effect` as it happens (lib/cycle/step-outcome.ts). */
export type Effect = 'newSlotStarted' | 'switched' | 'switchedBack' | 'canaryBegun' | 'canaryHandedOver';

export type StreamedExtra = { env?: Record<string, string>; timeoutMs?: number };

/** Everything a step may act through; the runner makes one per run. */
export type StepIo = {
  ctx: CycleContext;
  config: Config;
  reporter: Reporter;
  processes: SlotProcesses;
  traffic: TrafficSwitch;
  store: StateStore;
  /** What the run's steps have done on the host so far; only the runner changes it, through `effect`. */
  readonly effects: Readonly<Effects>;
  /** Reports an effect the moment it happened: the step may still throw after it, and the clean-up must know. */
  effect(happened: Effect): void;
  /** Runs a hook with the run's facts (and `extra`); after the switch a failing hook only warns. */
  hook(name: string, extra?: Record<string, string>): Promise<void>;
  /** A configured command with its output streamed under the step; `extra.env` over the app's environment. */
  runStreamed(command: string, dir: string, label: string, step: Step, extra?: StreamedExtra): Promise<void>;
  /** The run's facts as hooks get them (COMMIT, SLOT, APP_DIR, ...), without the SWITCHYARD_ prefix. */
  facts(): Record<string, string>;
  /** true, or why not: the slot's process runs and its health URL answers 2xx right now. */
  slotAnswers(slot: SlotName): Promise<true | string>;
  /** The target slot's last log lines, for an error's details. */
  logTail(): string[];
};

export type StepFunction = (run: Readonly<Run>, io: StepIo) => Promise<RunChange | void>;

export type { CycleCommand };
