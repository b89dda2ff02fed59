import type { Redactor } from '../config/redact.ts';
import { saveState, type State } from './state.ts';
import { applied, type Transition } from './transitions.ts';

/**
 * The one place a running command changes and writes the state. `apply` writes at once; `defer`
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
    saveState(this.deployRoot, this.current, this.redactor);
  }

  private change(transitions: Transition[]): void {
    this.current = applied(this.current, ...transitions);
  }
}
