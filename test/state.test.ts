import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initialState, loadState, parseState, readStateFile, saveState, serializeState, statePath } from '../lib/state.ts';

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
});
