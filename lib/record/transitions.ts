import { otherSlot, type SlotName } from '../config/config.ts';
import { CANARY_WINDOWS_KEPT, type Bake, type Canary, type CanaryWindow, type HistoryEntry, type Journal, type ReleaseCmdRun, type State } from './state-shape.ts';

/**
 * Every change a deploy, rollback or restart makes to the state, as a pure function from the state
 * before to the state after. The cycle applies them through one StateStore (store.ts), which is the
 * only place that writes the file; the order of applications is the crash-safety argument, so each
 * is named after what has just happened on the host.
 */
export type Transition = (state: State) => State;

/** `state` after each transition in turn. */
export function applied(state: State, ...transitions: Transition[]): State {
  return transitions.reduce((current, transition) => transition(current), state);
}

export const journaled = (journal: Journal): Transition => (state) => ({ ...state, journal });

/** A checkout is about to start: a kill from here on leaves a release no command will start. */
export const releaseBegun = (commit: string, at: string): Transition => (state) => ({
  ...state,
  releases: { ...state.releases, [commit]: { commit, builtAt: at, complete: false } },
});

export const releaseCompleted = (commit: string, at: string, installKey: string | undefined): Transition => (state) => ({
  ...state,
  releases: { ...state.releases, [commit]: { commit, builtAt: at, complete: true, ...(installKey ? { installKey } : {}) } },
});

export const releasesForgotten = (commits: readonly string[]): Transition => (state) => {
  const releases = { ...state.releases };
  for (const commit of commits) delete releases[commit];
  return { ...state, releases };
};

/** Commits whose RELEASE_CMD ran that the state keeps (a commit older than these would be migrated again: migrations are idempotent). */
export const RELEASE_CMD_RUNS_KEPT = 200;

/** RELEASE_CMD exited 0 for `commit`: from here on no deploy of it runs it again unless asked. */
export const releaseCmdRecorded = (commit: string, run: ReleaseCmdRun): Transition => (state) => {
  const runs = Object.entries({ ...state.releaseCmdRuns, [commit]: run }).sort(([, x], [, y]) => Date.parse(y.at) - Date.parse(x.at));
  return { ...state, releaseCmdRuns: Object.fromEntries(runs.slice(0, RELEASE_CMD_RUNS_KEPT)) };
};

const withSlot = (state: State, slot: SlotName, change: Partial<State['slots'][SlotName]>): State => ({
  ...state,
  slots: { ...state.slots, [slot]: { ...state.slots[slot], ...change } },
});

/** The slot's symlink is about to name the release `commit`; no process of it runs yet. */
export const slotPointedAt = (slot: SlotName, commit: string | null, builtAt: string | null): Transition => (state) =>
  withSlot(state, slot, { commit, builtAt, pid: null, startedAt: null });

export const slotStarted = (slot: SlotName, pid: number, at: string): Transition => (state) =>
  withSlot(state, slot, { pid, startedAt: at });

export const slotStopped = (slot: SlotName): Transition => (state) => withSlot(state, slot, { pid: null, startedAt: null });

/** Traffic now reaches `slot`; the next deploy builds the other one. */
export const trafficMovedTo = (slot: SlotName): Transition => (state) => ({ ...state, live: slot, next_deploy: otherSlot(slot) });

export const bakeBegun = (bake: Bake): Transition => (state) => ({ ...state, bake });

export const bakeWatched = (watcherPid: number): Transition => (state) =>
  state.bake ? { ...state, bake: { ...state.bake, watcherPid } } : state;

export const bakeEnded: Transition = (state) => ({ ...state, bake: null });

/** The command's outcome; its journal entry goes with it. */
export const historyAppended = (entry: HistoryEntry): Transition => (state) =>
  ({ ...state, history: [...state.history, entry], journal: null });

/** The canary is recorded before its files are written: a kill from here on leaves a canary the next command ends. */
export const canaryBegun = (canary: Canary): Transition => (state) => ({ ...state, canary });

export const canaryWatched = (watcherPid: number): Transition => (state) =>
  state.canary ? { ...state, canary: { ...state.canary, watcherPid } } : state;

/** The deploy that began the canary has handed it over: its journal goes, the canary stays. */
export const canaryHandedOver: Transition = (state) => ({ ...state, journal: null });

export const canaryJudged = (window: CanaryWindow): Transition => (state) =>
  state.canary ? { ...state, canary: { ...state.canary, windows: [...state.canary.windows, window].slice(-CANARY_WINDOWS_KEPT) } } : state;

export const canaryStepped = (step: number, share: number, at: string): Transition => (state) =>
  state.canary ? { ...state, canary: { ...state.canary, step, share, stepStartedAt: at } } : state;

export const canaryEnded: Transition = (state) => ({ ...state, canary: null });
