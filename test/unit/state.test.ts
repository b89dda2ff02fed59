import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { historyLogPath, loadState, readHistory, readStateFile, statePath } from '../../lib/record/state.ts';
import { HISTORY_KEPT, initialState, parseState, serializeState, type HistoryEntry, type State } from '../../lib/record/state-shape.ts';
import { StateStore, updateState } from '../../lib/record/store.ts';
import { URL_CREDENTIALS_ONLY } from '../../lib/config/redact.ts';

/** What a command writes: the state as it is, through the store (the only writer). */
const saveState = (root: string, state: State): State => new StateStore(root, state, URL_CREDENTIALS_ONLY).apply();

describe('state file', () => {
  it('round-trips and is written atomically with private permissions', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    const state = initialState('shop', { a: 3001, b: 3002 });
    state.live = 'b';
    state.next_deploy = 'a';
    saveState(root, state);
    expect(loadState(root, 'shop', { a: 3001, b: 3002 })).toEqual(state);
    expect(statSync(statePath(root)).mode & 0o777).toBe(0o600);
    expect(readdirSync(root).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a corrupt file without overwriting it and says how to recover', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    writeFileSync(statePath(root), '{"version": 1, "live": "a", trunc');
    expect(() => loadState(root, 'shop', { a: 3001, b: 3002 })).toThrow(/state file .*state\.json cannot be used: it is not valid JSON/);
    try {
      loadState(root, 'shop', { a: 3001, b: 3002 });
    } catch (error) {
      expect((error as { line: string }).line).toMatch(/status --repair/);
    }
  });

  it('refuses a file from a newer version', () => {
    const newer = { ...initialState('shop', { a: 1, b: 2 }), version: 99 };
    expect(() => parseState(serializeState(newer))).toThrow(/newer Switchyard \(state version 99/);
  });

  it('checks the shape', () => {
    expect(() => parseState('{"version":1,"live":"c","next_deploy":"a","slots":{},"history":[]}')).toThrow(/"live" must be/);
    expect(() => parseState('[]')).toThrow(/not a JSON object/);
  });

  it('tells a file it could not read from one it read and found invalid (only that one may be repaired)', () => {
    const ports = { a: 3001, b: 3002 };
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    expect(readStateFile(root, ports)).toEqual({ kind: 'missing' });
    mkdirSync(statePath(root));
    expect(readStateFile(root, ports)).toEqual({ kind: 'unreadable', code: 'EISDIR' });
    expect(() => loadState(root, 'shop', ports)).toThrow(/state file .*state\.json cannot be read \(EISDIR\): it belongs to \S+ \(mode 0\d{3}\) and this command runs as \S+$/);
    const other = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    writeFileSync(statePath(other), '{"version": 1');
    expect(readStateFile(other, ports)).toMatchObject({ kind: 'invalid', problem: expect.stringMatching(/not valid JSON/) });
    saveState(other, initialState('shop', ports));
    expect(readStateFile(other, ports)).toMatchObject({ kind: 'valid' });
  });

  it('keeps the newest history entries in state.json and appends older ones to history.log, once', () => {
    const ports = { a: 3001, b: 3002 };
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    const entry = (index: number): HistoryEntry => ({ at: new Date(1_700_000_000_000 + index * 1000).toISOString(), user: 'ana', command: 'deploy', slot: 'a', commit: null, previousCommit: null, outcome: 'success', durationMs: index });
    const state = initialState('shop', ports);
    // A state grown before the cap (the host had 100k entries): trimmed at its first save.
    state.history = Array.from({ length: 20_000 }, (_, index) => entry(index));
    const written = saveState(root, state);
    expect(written.history).toHaveLength(HISTORY_KEPT);
    expect(state.history, 'the state given is not changed').toHaveLength(20_000);
    expect(loadState(root, 'shop', ports).history.map((item) => item.durationMs)).toEqual(Array.from({ length: HISTORY_KEPT }, (_, index) => 20_000 - HISTORY_KEPT + index));
    const logLines = () => readFileSync(historyLogPath(root), 'utf8').trim().split('\n');
    expect(logLines()).toHaveLength(20_000 - HISTORY_KEPT);
    expect(statSync(historyLogPath(root)).mode & 0o777).toBe(0o600);
    // Saves at every phase do not append again; one more entry moves exactly one.
    saveState(root, written);
    saveState(root, { ...written, history: [...written.history, entry(20_000)] });
    expect(logLines()).toHaveLength(20_000 - HISTORY_KEPT + 1);
    const all = readHistory(root, loadState(root, 'shop', ports), 1_000_000);
    expect(all.map((item) => item.durationMs)).toEqual(Array.from({ length: 20_001 }, (_, index) => index));
    expect(readHistory(root, loadState(root, 'shop', ports), 3).map((item) => item.durationMs)).toEqual([19_998, 19_999, 20_000]);
    // A crash between the append and the state write (entries in both) and a torn last line: each entry once.
    writeFileSync(historyLogPath(root), `${JSON.stringify(written.history[0])}\n{"at": "tor`, { flag: 'a' });
    expect(readHistory(root, loadState(root, 'shop', ports), 1_000_000)).toHaveLength(20_001);
  });
});

describe('state store', () => {
  const ports = { a: 3001, b: 3002 };

  it('redacts a reason before it is stored and leaves the state it was given as it was', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    const reason = 'git fetch https://ana:s3cret@example.com/shop.git failed';
    const entry: HistoryEntry = { at: new Date(0).toISOString(), user: 'ana', command: 'deploy', slot: 'a', commit: null, previousCommit: null, outcome: 'failed', durationMs: 1, reason };
    const state = { ...initialState('shop', ports), history: [entry] };
    const written = new StateStore(root, state, URL_CREDENTIALS_ONLY).apply();
    expect(written.history[0].reason).not.toContain('s3cret');
    expect(readFileSync(statePath(root), 'utf8')).not.toContain('s3cret');
    expect(state.history[0].reason).toBe(reason);
  });

  it('updateState changes the state on disk now, not a copy read before', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    const before = initialState('shop', ports);
    new StateStore(root, before, URL_CREDENTIALS_ONLY).apply((state) => ({ ...state, live: 'b' }));
    const after = updateState({ deployRoot: root, appName: 'shop', ports }, URL_CREDENTIALS_ONLY, (state) => ({ ...state, next_deploy: 'b' }));
    expect(after).toMatchObject({ live: 'b', next_deploy: 'b' });
    expect(loadState(root, 'shop', ports)).toEqual(after);
    expect(before.live).toBe(null);
  });

  it('is the only writer: nothing in lib/ or scripts/ but lib/record/store.ts writes the state file', () => {
    const repo = path.resolve(import.meta.dirname, '../..');
    const writers = ['lib', 'scripts']
      .flatMap((dir) => readdirSync(path.join(repo, dir), { recursive: true, encoding: 'utf8' }).map((file) => path.join(dir, file)))
      .filter((file) => file.endsWith('.ts') && file !== path.join('lib', 'record', 'store.ts'))
      .filter((file) => /\bsaveState\b|\bwriteState\b|writeFileAtomic\(\s*(statePath|paths\.state)\(/.test(readFileSync(path.join(repo, file), 'utf8')));
    expect(writers).toEqual([]);
  });
});
