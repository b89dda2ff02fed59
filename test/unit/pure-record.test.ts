import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The state's pure half (its shape, the transitions, reconcile's decision) loads nothing that writes,
 * spawns or signals: what they import at run time (`import type` is erased), followed to the end,
 * holds no file system, child process or lib/host/ module. store.ts is the one writer.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const PURE = ['lib/record/state-shape.ts', 'lib/record/transitions.ts', 'lib/record/reconcile.ts'];
const SIDE_EFFECTS = /^(node:)?(fs|fs\/promises|child_process)$|^execa$|^lib\/host\//;

/** What `file` loads when it runs: relative imports as repository paths, packages as they are named. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^(import|export)\s(?!type\s)[^;]*?\sfrom\s+'([^']+)'/gms)].map(([, , specifier]) =>
    specifier.startsWith('.') ? path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), specifier)) : specifier,
  );
}

/** Every module `start` loads, each with the file that imports it. */
function loaded(start: string): Map<string, string> {
  const seen = new Map<string, string>([[start, start]]);
  const todo = [start];
  while (todo.length > 0) {
    const file = todo.pop()!;
    for (const target of runtimeImports(file)) {
      if (seen.has(target)) continue;
      seen.set(target, file);
      if (target.startsWith('lib/')) todo.push(target);
    }
  }
  return seen;
}

describe('the pure half of lib/record', () => {
  it.each(PURE)('%s loads nothing that writes, spawns or signals', (file) => {
    const offending = [...loaded(file)].filter(([module]) => SIDE_EFFECTS.test(module)).map(([module, by]) => `${by} imports ${module}`);
    expect(offending).toEqual([]);
  });

  it('sees a writer where there is one (the check itself)', () => {
    expect([...loaded('lib/record/store.ts').keys()].filter((module) => SIDE_EFFECTS.test(module))).toEqual(
      expect.arrayContaining(['node:fs', 'lib/host/files.ts']),
    );
  });
});
