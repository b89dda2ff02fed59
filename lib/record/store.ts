import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { SlotName } from '../config/config.ts';
import type { Redactor } from '../config/redact.ts';
import { writeFileAtomic } from '../host/files.ts';
import { historyLogPath, loadState, statePath } from './state.ts';
import { HISTORY_KEPT, serializeState, type State } from './state-shape.ts';
import { applied, type Transition } from './transitions.ts';

/**
 * The one place the state is changed and written. `apply` writes at once; `defer`
 * leaves the write to the next `apply` or `flush`: for a change right before a step ends, where the
 * next thing the run does is journal a phase or run a hook and nothing outside this process happens
 * in between, so a kill lands on the same state either way, with one fsynced write fewer.
 */
export class StateStore {
  private pending = false;

  constructor(
    private readonly deployRoot: string,
    private current: State,
    private readonly redactor: Redactor,
  ) {}

  get state(): State {
    return this.current;
  }

  apply(...transitions: Transition[]): State {
    this.change(transitions);
    this.flush(true);
    return this.current;
  }

  defer(...transitions: Transition[]): State {
    this.change(transitions);
    this.pending = true;
    return this.current;
  }

  /** What `defer` left is written now (before a hook, or the clean-up after a failure). */
  flush(force = false): void {
    if (!this.pending && !force) return;
    this.pending = false;
    this.current = writeState(this.deployRoot, this.current, this.redactor);
  }

  private change(transitions: Transition[]): void {
    this.current = applied(this.current, ...transitions);
  }
}

/** Where a host's state lives and what a fresh one holds (a Config is one). */
export type StateHome = { deployRoot: string; appName: string; ports: Record<SlotName, number> };

/** A store over the state as it is on disk now: for a command that changes it outside a run (a watcher, promote, resume). */
export function openStore(home: StateHome, redactor: Redactor): StateStore {
  return new StateStore(home.deployRoot, loadState(home.deployRoot, home.appName, home.ports), redactor);
}

/** The state on disk now, changed by `transitions` and written at once; returns what was written. */
export function updateState(home: StateHome, redactor: Redactor, ...transitions: Transition[]): State {
  return openStore(home, redactor).apply(...transitions);
}

/**
 * Write the state atomically and return what was written; `state` itself is left as it was. A
 * failure's reason can quote a command or URL holding a secret: it is redacted (with the command's redactor) before it is
 * ever stored. History beyond HISTORY_KEPT entries is appended to history.log (one JSON object a line)
 * first and left out of what is returned, so the next write from it does not append it again.
 */
function writeState(deployRoot: string, state: State, redactor: Redactor): State {
  const history = state.history.map((entry) => (entry.reason ? { ...entry, reason: redactor.redact(entry.reason) } : entry));
  const older = history.slice(0, Math.max(0, history.length - HISTORY_KEPT));
  if (older.length > 0) appendDurably(historyLogPath(deployRoot), older.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
  const written = { ...state, history: history.slice(older.length) };
  writeFileAtomic(statePath(deployRoot), serializeState(written));
  return written;
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
