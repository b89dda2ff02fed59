import { existsSync, readFileSync } from 'node:fs';
import type { SlotName } from './config.ts';
import { SwitchyardError } from './errors.ts';
import { writeFileAtomic } from './files.ts';
import { paths } from './paths.ts';

export const STATE_VERSION = 1;

export type SlotState = {
  port: number;
  /** Full SHA of the build in the slot folder; null when the slot holds no complete build. */
  commit: string | null;
  builtAt: string | null;
  pid: number | null;
  startedAt: string | null;
};

export type HistoryEntry = {
  at: string;
  user: string;
  command: 'deploy' | 'rollback';
  slot: SlotName;
  commit: string | null;
  previousCommit: string | null;
  outcome: 'success' | 'failed' | 'interrupted';
  durationMs: number;
  reason?: string;
};

/** What a running deploy or rollback is doing; left behind if it is killed, so the next command can tell. */
export type Journal = {
  command: 'deploy' | 'rollback';
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
};

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'a' ? 'b' : 'a';
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

export function statePath(deployRoot: string): string {
  return paths.state(deployRoot);
}

/** Load state, or a fresh one when there is none yet. A corrupt or newer file stops everything. */
export function loadState(deployRoot: string, app: string, ports: Record<SlotName, number>): State {
  const file = statePath(deployRoot);
  if (!existsSync(file)) return initialState(app, ports);
  try {
    const state = parseState(readFileSync(file, 'utf8'));
    // Ports come from the config: a changed PORT_A/PORT_B applies from the next start of that slot.
    state.slots.a.port = ports.a;
    state.slots.b.port = ports.b;
    return state;
  } catch (error) {
    throw new SwitchyardError(`state file ${file} cannot be used: ${(error as Error).message}`, {
      untouched: 'it was left as it is and nothing was changed',
      next: `run ./deploy.ts status --repair to rebuild it from the running processes and the nginx upstream (the old file is kept beside it)`,
    });
  }
}

export function saveState(deployRoot: string, state: State): void {
  writeFileAtomic(statePath(deployRoot), serializeState(state));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSlotState(value: unknown): boolean {
  return isObject(value) && typeof value.port === 'number' && (value.commit === null || typeof value.commit === 'string');
}
