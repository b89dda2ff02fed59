import { describe, expect, it } from 'vitest';
import { previousGoodCommit, releasesMatching, releasesToPrune, rolledBackFrom } from '../../lib/release/releases.ts';
import { initialState, type HistoryEntry, type State } from '../../lib/record/state-shape.ts';

const sha = (n: number) => String(n).repeat(40).slice(0, 40);
const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();

function entry(minute: number, command: HistoryEntry['command'], commit: string, previousCommit: string | null, outcome: HistoryEntry['outcome'] = 'success'): HistoryEntry {
  return { at: at(minute), user: 'ana', command, slot: 'a', commit, previousCommit, outcome, durationMs: 1000 };
}

function stateWith(history: HistoryEntry[], live: string, other: string | null, kept: number[]): State {
  const state = initialState('shop', { a: 3001, b: 3002 });
  state.live = 'a';
  state.slots.a.commit = live;
  state.slots.b.commit = other;
  state.history = history;
  state.releases = Object.fromEntries(kept.map((n, index) => [sha(n), { commit: sha(n), builtAt: at(index), complete: true }]));
  return state;
}

describe('releases', () => {
  const kept = (state: State) => (commit: string) => Boolean(state.releases?.[commit]);

  it('rolls back to the newest release that was live before, skipping one rolled back from', () => {
    // v1, v2, v3 deployed; rolled back from v3 to v2; then v4 deployed: rollback goes to v2, never v3.
    const history = [entry(1, 'deploy', sha(1), null), entry(2, 'deploy', sha(2), sha(1)), entry(3, 'deploy', sha(3), sha(2)), entry(4, 'rollback', sha(2), sha(3)), entry(5, 'deploy', sha(4), sha(2))];
    const state = stateWith(history, sha(4), sha(2), [1, 2, 3, 4]);
    expect(rolledBackFrom(history)).toEqual(new Set([sha(3)]));
    expect(previousGoodCommit(state, kept(state))).toBe(sha(2));
    // After rolling back to v2, the next plain rollback goes further back: v1, not the bad v4.
    const after = stateWith([...history, entry(6, 'rollback', sha(2), sha(4))], sha(2), sha(4), [1, 2, 3, 4]);
    expect(previousGoodCommit(after, kept(after))).toBe(sha(1));
  });

  it('skips a release that is no longer kept, and a deploy that failed', () => {
    const history = [entry(1, 'deploy', sha(1), null), entry(2, 'deploy', sha(2), sha(1)), entry(3, 'deploy', sha(3), sha(2), 'failed'), entry(4, 'deploy', sha(4), sha(2))];
    const state = stateWith(history, sha(4), sha(2), [1, 4]);
    expect(previousGoodCommit(state, kept(state))).toBe(sha(1));
    expect(previousGoodCommit(stateWith(history, sha(4), null, [4]), () => false)).toBeUndefined();
  });

  it('a release deployed again after it was rolled back from is good again', () => {
    const history = [entry(1, 'deploy', sha(1), null), entry(2, 'deploy', sha(2), sha(1)), entry(3, 'rollback', sha(1), sha(2)), entry(4, 'deploy', sha(2), sha(1)), entry(5, 'deploy', sha(3), sha(2))];
    const state = stateWith(history, sha(3), sha(2), [1, 2, 3]);
    expect(previousGoodCommit(state, kept(state))).toBe(sha(2));
  });

  it('finds kept releases by a unique prefix of 4 or more hex characters', () => {
    const state = stateWith([], sha(1), null, [1, 2]);
    expect(releasesMatching(state, '1111').map((release) => release.commit)).toEqual([sha(1)]);
    expect(releasesMatching(state, '111')).toEqual([]);
    expect(releasesMatching(state, 'main')).toEqual([]);
  });

  it('prunes all but the newest KEEP, never the live, the other slot\'s or the last good release', () => {
    // Built in order 1..7 (7 newest); live 7, other slot 1, last good 2, KEEP 3: keep 5, 6, 7 + 1, 2.
    const state = stateWith([], sha(7), sha(1), [1, 2, 3, 4, 5, 6, 7]);
    expect(releasesToPrune(state, 3, sha(2)).sort()).toEqual([sha(3), sha(4)].sort());
    state.releases![sha(6)].complete = false;
    expect(releasesToPrune(state, 3, sha(2)).sort()).toEqual([sha(3), sha(6)].sort());
  });
});

describe('the install cache', () => {
  it('copies a kept release\'s node_modules into a new one: same content, files of its own', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, statSync, readFileSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { installKey, reuseDependencies } = await import('../../lib/release/release-files.ts');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-cache-'));
    try {
      const [from, to] = [path.join(dir, 'r1'), path.join(dir, 'r2')];
      for (const release of [from, to]) {
        mkdirSync(release);
        writeFileSync(path.join(release, 'package-lock.json'), '{"lockfileVersion":3}');
      }
      mkdirSync(path.join(from, 'node_modules', 'dep'), { recursive: true });
      mkdirSync(path.join(from, 'node_modules', '.cache'), { recursive: true });
      writeFileSync(path.join(from, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
      expect(installKey(from, 'npm ci')).toBe(installKey(to, 'npm ci'));
      expect(installKey(from, 'npm ci')).not.toBe(installKey(from, 'npm install'));
      expect(installKey(dir, 'npm ci')).toBeUndefined();
      expect(await reuseDependencies(from, to, process.env)).toBe(true);
      const [copied, kept] = [path.join(to, 'node_modules', 'dep', 'index.js'), path.join(from, 'node_modules', 'dep', 'index.js')];
      expect(readFileSync(copied, 'utf8')).toBe('module.exports = 1;\n');
      expect(statSync(copied).ino).not.toBe(statSync(kept).ino);
      // A build that rewrites a dependency's file in place leaves the kept release as it was.
      writeFileSync(copied, 'module.exports = 2;\n');
      expect(readFileSync(kept, 'utf8')).toBe('module.exports = 1;\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
