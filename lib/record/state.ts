import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { currentUserName, describeOwnership } from '../host/file-owner.ts';
import { writeFileAtomic } from '../host/files.ts';
import { paths } from '../host/paths.ts';
import type { Redactor } from '../config/redact.ts';
import type { SlotFigures } from '../judge/figures.ts';

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

export { otherSlot } from '../config/config.ts';

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

export function statePath(deployRoot: string): string {
  return paths.state(deployRoot);
}

/** What reading the state file found: only an `invalid` file may be moved aside and rebuilt. */
export type StateRead =
  | { kind: 'missing' }
  | { kind: 'valid'; state: State }
  | { kind: 'invalid'; problem: string }
  | { kind: 'unreadable'; code: string };

export function readStateFile(deployRoot: string, ports: Record<SlotName, number>): StateRead {
  let text: string;
  try {
    text = readFileSync(statePath(deployRoot), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    // ENOTDIR: DEPLOY_ROOT is not a folder at all; there is no state, and taking the lock says what is wrong.
    return code === 'ENOENT' || code === 'ENOTDIR' ? { kind: 'missing' } : { kind: 'unreadable', code };
  }
  try {
    const state = parseState(text);
    // Ports come from the config: a changed PORT_A/PORT_B applies from the next start of that slot.
    state.slots.a.port = ports.a;
    state.slots.b.port = ports.b;
    return { kind: 'valid', state };
  } catch (error) {
    return { kind: 'invalid', problem: (error as Error).message };
  }
}

/** Load state, or a fresh one when there is none yet. A corrupt, unreadable or newer file stops everything. */
export function loadState(deployRoot: string, app: string, ports: Record<SlotName, number>): State {
  const read = readStateFile(deployRoot, ports);
  if (read.kind === 'missing') return initialState(app, ports);
  if (read.kind === 'valid') return read.state;
  if (read.kind === 'unreadable') throw unreadableStateError(deployRoot, read.code);
  throw new SwitchyardError(`state file ${statePath(deployRoot)} cannot be used: ${read.problem}`, {
    untouched: 'it was left as it is and nothing was changed',
    next: `run ./deploy.ts status --repair to rebuild it from the running processes and the nginx upstream (the old file is kept beside it)`,
  });
}

/** A state file this user may not read is not damaged: say whose it is and how to fix that, never offer to repair it. */
export function unreadableStateError(deployRoot: string, code: string): SwitchyardError {
  const file = statePath(deployRoot);
  const me = currentUserName();
  const fileOwner = describeOwnership(file);
  const folderOwner = describeOwnership(deployRoot);
  const whose = fileOwner
    ? `it belongs to ${fileOwner.owner} (mode ${fileOwner.mode}) and this command runs as ${me}`
    : folderOwner
      ? `its folder ${deployRoot} belongs to ${folderOwner.owner} (mode ${folderOwner.mode}) and this command runs as ${me}`
      : `this command runs as ${me}`;
  const owner = fileOwner?.owner ?? folderOwner?.owner;
  return new SwitchyardError(`state file ${file} cannot be read (${code}): ${whose}`, {
    untouched: 'it is not damaged and was left as it is; nothing was changed',
    next: owner && owner !== me
      ? `run Switchyard as ${owner} (the user that deploys), or if ${me} is that user: sudo chown -R ${me} ${deployRoot}`
      : `give ${me} read access to it (chmod u+r ${file})`,
  });
}

/** Entries kept in state.json; older ones move to history.log, so the file rewritten at every phase stays small. */
export const HISTORY_KEPT = 200;

export function historyLogPath(deployRoot: string): string {
  return path.join(deployRoot, 'history.log');
}

/**
 * Write the state atomically. A failure's reason can quote a command or URL holding a secret: it is
 * redacted (with the command's `redactor`) before it is ever stored. History beyond HISTORY_KEPT entries is appended to history.log
 * (one JSON object a line) first and removed from `state` itself, so later saves do not append it again.
 */
export function saveState(deployRoot: string, state: State, redactor: Redactor): void {
  for (const entry of state.history) if (entry.reason) entry.reason = redactor.redact(entry.reason);
  if (state.history.length > HISTORY_KEPT) {
    const older = state.history.slice(0, state.history.length - HISTORY_KEPT);
    appendDurably(historyLogPath(deployRoot), older.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    state.history.splice(0, older.length);
  }
  writeFileAtomic(statePath(deployRoot), serializeState(state));
}

/** The last `count` history entries: state.json's, preceded by history.log's when more are wanted. */
export function readHistory(deployRoot: string, state: State, count: number): HistoryEntry[] {
  if (count <= state.history.length) return state.history.slice(-count);
  let logged: HistoryEntry[] = [];
  try {
    logged = readFileSync(historyLogPath(deployRoot), 'utf8').split('\n').flatMap((line) => {
      try {
        return line ? [JSON.parse(line) as HistoryEntry] : [];
      } catch {
        return []; // A line cut short by a crash or a full disk.
      }
    });
  } catch {
    // No log yet: everything is in state.json.
  }
  // A crash between the append and the state write leaves entries in both: keep one of each.
  const seen = new Set<string>();
  const all = [...logged, ...state.history].filter((entry) => {
    const key = JSON.stringify(entry);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return all.slice(-count);
}

function appendDurably(file: string, text: string): void {
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSlotState(value: unknown): boolean {
  return isObject(value) && typeof value.port === 'number' && (value.commit === null || typeof value.commit === 'string');
}
