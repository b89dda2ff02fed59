import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { currentUserName, describeOwnership } from '../host/file-owner.ts';
import { paths } from '../host/paths.ts';
import { initialState, parseState, type HistoryEntry, type State } from './state-shape.ts';

/** The state file on disk: where it is and reading it (its shape is state-shape.ts; only store.ts writes it). */

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

export function historyLogPath(deployRoot: string): string {
  return path.join(deployRoot, 'history.log');
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
