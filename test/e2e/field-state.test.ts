import { execa } from 'execa';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TS } from '../../harness/host.ts';
import { initialState, serializeState } from '../../lib/record/state-shape.ts';

/**
 * A state file another user owns (someone ran a deploy with sudo once): the deploy user cannot READ it.
 * Run as a second local user (nobody, uid 65534, which every Debian has) against root's file.
 */
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('SKIPPED the unreadable-state test: it needs root to run a command as a second user (nobody)');

describe.skipIf(!isRoot)('a state file that cannot be read', () => {
  let dir: string;
  let root: string;
  let envFile: string;
  let original: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-perm-'));
    chmodSync(dir, 0o755);
    root = path.join(dir, 'root');
    mkdirSync(root, { mode: 0o700 });
    chownSync(root, NOBODY, NOBODY);
    envFile = path.join(dir, 'switchyard.env');
    writeFileSync(envFile, `APP_NAME=permapp\nREPO=${dir}/repo\nDEPLOY_ROOT=${root}\nSWITCH=none\nPORT_A=39471\nPORT_B=39472\n`, { mode: 0o644 });
    const state = { ...initialState('permapp', { a: 39471, b: 39472 }), live: 'a' as const, next_deploy: 'b' as const };
    state.slots.a.commit = 'a'.repeat(40);
    original = serializeState(state);
    writeFileSync(path.join(root, 'state.json'), original, { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const asNobody = (args: string[]) =>
    execa('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', DEPLOY_TS, ...args], {
      env: { PATH: process.env.PATH, HOME: dir, DEPLOY_ENV_FILE: envFile, NO_COLOR: '1' },
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });

  for (const args of [['status', '--repair'], ['status'], ['deploy']]) {
    it(`${args.join(' ')} says whose file it is and how to fix it, and never moves it aside`, async () => {
      const result = await asNobody(args);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
        `error: state file ${root}/state.json cannot be read (EACCES): it belongs to root (mode 0600) and this command runs as nobody; it is not damaged and was left as it is; nothing was changed; run Switchyard as root (the user that deploys), or if nobody is that user: sudo chown -R nobody ${root}`,
      ]);
      expect(result.stderr).not.toMatch(/--repair|broken|rebuild/);
      expect(readFileSync(path.join(root, 'state.json'), 'utf8')).toBe(original);
      expect(readdirSync(root).filter((name) => name.startsWith('state.json'))).toEqual(['state.json']);
    }, 60_000);
  }
});
