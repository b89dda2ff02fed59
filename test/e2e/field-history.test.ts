import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TS } from '../../harness/host.ts';
import { historyLogPath, statePath } from '../../lib/record/state.ts';
import { HISTORY_KEPT, initialState } from '../../lib/record/state-shape.ts';
import { StateStore } from '../../lib/record/store.ts';
import { URL_CREDENTIALS_ONLY } from '../../lib/config/redact.ts';

/** `history` reads both state.json and history.log, through the real command. */
describe('history beyond what state.json keeps', () => {
  let dir: string;
  let root: string;
  let envFile: string;
  const history = (args: string[]) => execa(DEPLOY_TS, ['history', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1' }, reject: false, timeout: 60_000 });

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-history-'));
    root = path.join(dir, 'root');
    mkdirSync(root, { mode: 0o700 });
    envFile = path.join(dir, 'switchyard.env');
    writeFileSync(envFile, `APP_NAME=histapp\nREPO=${dir}/repo\nDEPLOY_ROOT=${root}\nSWITCH=none\n`);
    const state = initialState('histapp', { a: 3001, b: 3002 });
    state.history = Array.from({ length: 1000 }, (_, index) => ({
      at: new Date(1_700_000_000_000 + index * 60_000).toISOString(), user: 'ana', command: 'deploy' as const, slot: index % 2 ? 'b' as const : 'a' as const,
      commit: index.toString(16).padStart(40, '0'), previousCommit: null, outcome: 'success' as const, durationMs: index,
    }));
    new StateStore(root, state, URL_CREDENTIALS_ONLY).apply();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('state.json holds the newest entries, history.log the rest, and history -n N reads across both', async () => {
    expect(JSON.parse(readFileSync(statePath(root), 'utf8')).history).toHaveLength(HISTORY_KEPT);
    expect(readFileSync(historyLogPath(root), 'utf8').trim().split('\n')).toHaveLength(1000 - HISTORY_KEPT);
    const json = await history(['--json', '-n', '250']);
    expect(json.exitCode, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).map((entry: { durationMs: number }) => entry.durationMs)).toEqual(
      Array.from({ length: 250 }, (_, index) => 750 + index),
    );
    const text = await history(['-n', '1000']);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout.trim().split('\n')).toHaveLength(1000);
  }, 60_000);
});
