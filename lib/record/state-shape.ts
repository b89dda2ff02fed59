import type { SlotName } from '../config/config.ts';
import type { SlotFigures } from '../judge/figures.ts';

/**
 * What the state file holds, and the pure helpers over it: its types, a fresh state, parsing and
 * serializing. Nothing here reads or writes a file (state.ts reads it, store.ts writes it), so the
 * pure transitions and reconcile.ts import only this.
 */

export const STATE_VERSION = 1;

export type SlotState = {
  port: number;
  /** Full SHA of the build in the slot folder; null when the slot holds no complete build. */
  commit: string | null;
  builtAt: string | null;
  pid: number | null;
  startedAt: string | null;
};

export type CycleCommand = 'deploy' | 'rollback' | 'restart';

export type HistoryEntry = {
  at: string;
  user: string;
  command: CycleCommand;
  slot: SlotName;
  commit: string | null;
  previousCommit: string | null;
  outcome: 'success' | 'failed' | 'interrupted';
  /** A rollback the bake window's watcher made by itself, after the new slot failed its health checks. */
  automatic?: boolean;
  durationMs: number;
  reason?: string;
  /** The revision the operator asked for (`deploy typo`), kept even when it never resolved to a commit. */
  requested?: string;
  /** Id of this run's full output in DEPLOY_ROOT/deploys (`history --show <id>`). */
  log?: string;
  /** An automatic rollback on nginx's figures: the last failed window's, the new slot's against the old one's. */
  judgement?: { failedWindows: number; candidate: SlotFigures; baseline: SlotFigures; reasons: string[] };
};

/** What a running deploy or rollback is doing; left behind if it is killed, so the next command can tell. */
export type Journal = {
  command: CycleCommand;
  pid: number;
  slot: SlotName;
  phase: string;
  startedAt: string;
};

export type State = {
  version: number;
  app: string;
  live: SlotName | null;
  next_deploy: SlotName;
  slots: Record<SlotName, SlotState>;
  journal: Journal | null;
  history: HistoryEntry[];
  /** The bake window after a deploy: the previous slot stays warm until endsAt, watched by a detached process. */
  bake?: Bake | null;
  /** A canary in progress: a share of users on the new slot, judged by a detached watcher (lib/canary/). */
  canary?: Canary | null;
  /** Builds kept under DEPLOY_ROOT/releases/<commit>, by full commit SHA (absent in states from before releases). */
  releases?: Record<string, Release>;
  /**
   * Commits whose RELEASE_CMD finished (exit 0), by full SHA: kept here, not in the release folder, so a
   * pruned or rebuilt release of a migrated commit does not migrate again. The newest RELEASE_CMD_RUNS_KEPT.
   */
  releaseCmdRuns?: Record<string, ReleaseCmdRun>;
};

export type ReleaseCmdRun = {
  at: string;
  /** The deploy's log id (`history --show <id>` has its output). */
  log?: string;
  /** Where it ran, when not the deploy of this host: a fleet controller's id. */
  fleet?: string;
};

export type Bake = {
  /** The slot that keeps running without traffic (the rollback target), and the one that went live. */
  previous: SlotName;
  live: SlotName;
  endsAt: string;
  /** The detached `bake-watch` process that ends the window; null until it has started. */
  watcherPid: number | null;
  autoRollback: boolean;
  /** nginx's figures for the previous slot from the deploy's start to its switch: what the new slot is judged against. */
  baseline?: Baseline | null;
};

/** nginx's figures of one slot over one window (lib/judge). */
export type WindowFigures = { requests: number; errors: number; p50Ms: number | null; p99Ms: number | null };

export type CanaryWindow = {
  at: string;
  share: number;
  outcome: 'pass' | 'fail' | 'inconclusive';
  candidate: WindowFigures;
  baseline: WindowFigures;
  reasons: string[];
};

export type Canary = {
  /** The slot that runs the new release for `share` % of users, and the live slot everyone else reaches. */
  slot: SlotName;
  live: SlotName;
  commit: string | null;
  /** The shares it moves through, and the index of the current one. */
  steps: number[];
  step: number;
  share: number;
  startedAt: string;
  stepStartedAt: string;
  /** The detached `canary-watch` process that judges and steps it; null until it has started. */
  watcherPid: number | null;
  /** The judged windows, oldest first (the last CANARY_WINDOWS_KEPT). */
  windows: CanaryWindow[];
  /** Who deployed, the revision asked for and the deploy's log id: the history entry at its end names them. */
  user: string;
  requested?: string;
  log?: string;
  deployStartedAt: string;
};

export const CANARY_WINDOWS_KEPT = 20;
export type Baseline = { slot: SlotName; figures: SlotFigures; ms: number };

/** One build of one commit. Only a complete one (installed and built) is ever started. */
export type Release = {
  commit: string;
  builtAt: string;
  complete: boolean;
  /** Hash of the lockfile, INSTALL_CMD and Node version its dependencies were installed with (the install cache's key). */
  installKey?: string;
};

/** A commit as every line shows it: git's 7-character abbreviation (`none` when there is no commit). */
export function shortCommit(commit: string | null | undefined, none = 'nothing'): string {
  return commit ? commit.slice(0, 7) : none;
}

export function initialState(app: string, ports: Record<SlotName, number>): State {
  const empty = (port: number): SlotState => ({ port, commit: null, builtAt: null, pid: null, startedAt: null });
  return { version: STATE_VERSION, app, live: null, next_deploy: 'a', slots: { a: empty(ports.a), b: empty(ports.b) }, journal: null, history: [] };
}

/** Parse and check a state file's text; throws a message that names what is wrong. Pure. */
export function parseState(text: string): State {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`it is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(data)) throw new Error('it is not a JSON object');
  if (typeof data.version !== 'number') throw new Error('it has no version number');
  if (data.version > STATE_VERSION) throw new Error(`it was written by a newer Switchyard (state version ${data.version}, this one reads ${STATE_VERSION})`);
  const isSlot = (value: unknown) => value === 'a' || value === 'b';
  if (!(data.live === null || isSlot(data.live))) throw new Error('"live" must be "a", "b" or null');
  if (!isSlot(data.next_deploy)) throw new Error('"next_deploy" must be "a" or "b"');
  if (!isObject(data.slots) || !isSlotState(data.slots.a) || !isSlotState(data.slots.b)) throw new Error('"slots" must hold slot a and slot b');
  if (!Array.isArray(data.history)) throw new Error('"history" must be a list');
  return data as unknown as State;
}

export function serializeState(state: State): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Entries kept in state.json; older ones move to history.log, so the file rewritten at every phase stays small. */
export const HISTORY_KEPT = 200;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSlotState(value: unknown): boolean {
  return isObject(value) && typeof value.port === 'number' && (value.commit === null || typeof value.commit === 'string');
}
