import type { HistoryEntry } from '../record/state-shape.ts';
import { historyAppended } from '../record/transitions.ts';
import type { Run, StepIo } from './types.ts';

/** The run's history entry, written with its journal cleared: by `record` on success, by the clean-up on failure. */
export function recordOutcome(run: Readonly<Run>, io: StepIo, outcome: HistoryEntry['outcome'], reason?: string): void {
  const state = io.store.state;
  io.store.apply(
    historyAppended({
      at: new Date(run.started).toISOString(),
      user: io.ctx.deployer,
      command: run.command,
      slot: run.target,
      commit: run.commit,
      previousCommit: (run.previous && state.slots[run.previous].commit) || null,
      outcome,
      durationMs: Date.now() - run.started,
      ...(reason ? { reason } : {}),
      ...(run.revision !== undefined ? { requested: run.revision } : {}),
      ...(run.logId ? { log: run.logId } : {}),
    }),
  );
}
