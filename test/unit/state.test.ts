import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HISTORY_KEPT, historyLogPath, initialState, loadState, parseState, readHistory, readStateFile, saveState, serializeState, statePath, type HistoryEntry } from '../../lib/record/state.ts';
import { URL_CREDENTIALS_ONLY } from '../../lib/config/redact.ts';

describe('state file', () => {
  it('round-trips and is written atomically with private permissions', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    const state = initialState('shop', { a: 3001, b: 3002 });
    state.live = 'b';
    state.next_deploy = 'a';
    saveState(root, state, URL_CREDENTIALS_ONLY);
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
    saveState(other, initialState('shop', ports), URL_CREDENTIALS_ONLY);
    expect(readStateFile(other, ports)).toMatchObject({ kind: 'valid' });
  });

  it('keeps the newest history entries in state.json and appends older ones to history.log, once', () => {
    const ports = { a: 3001, b: 3002 };
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-state-'));
    const entry = (index: number): HistoryEntry => ({ at: new Date(1_700_000_000_000 + index * 1000).toISOString(), user: 'ana', command: 'deploy', slot: 'a', commit: null, previousCommit: null, outcome: 'success', durationMs: index });
    const state = initialState('shop', ports);
    // A state grown before the cap (the host had 100k entries): trimmed at its first save.
    state.history = Array.from({ length: 20_000 }, (_, index) => entry(index));
    saveState(root, state, URL_CREDENTIALS_ONLY);
    expect(state.history).toHaveLength(HISTORY_KEPT);
    expect(loadState(root, 'shop', ports).history.map((item) => item.durationMs)).toEqual(Array.from({ length: HISTORY_KEPT }, (_, index) => 20_000 - HISTORY_KEPT + index));
    const logLines = () => readFileSync(historyLogPath(root), 'utf8').trim().split('\n');
    expect(logLines()).toHaveLength(20_000 - HISTORY_KEPT);
    expect(statSync(historyLogPath(root)).mode & 0o777).toBe(0o600);
    // Saves at every phase do not append again; one more entry moves exactly one.
    saveState(root, state, URL_CREDENTIALS_ONLY);
    state.history.push(entry(20_000));
    saveState(root, state, URL_CREDENTIALS_ONLY);
    expect(logLines()).toHaveLength(20_000 - HISTORY_KEPT + 1);
    const all = readHistory(root, loadState(root, 'shop', ports), 1_000_000);
    expect(all.map((item) => item.durationMs)).toEqual(Array.from({ length: 20_001 }, (_, index) => index));
    expect(readHistory(root, loadState(root, 'shop', ports), 3).map((item) => item.durationMs)).toEqual([19_998, 19_999, 20_000]);
    // A crash between the append and the state write (entries in both) and a torn last line: each entry once.
    writeFileSync(historyLogPath(root), `${JSON.stringify(state.history[0])}\n{"at": "tor`, { flag: 'a' });
    expect(readHistory(root, loadState(root, 'shop', ports), 1_000_000)).toHaveLength(20_001);
  });
});
