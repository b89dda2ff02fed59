import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { watcherLines } from '../../lib/cycle/retire.ts';

describe("the watcher's lines for status", () => {
  it('are the lines the watcher of that pid wrote since it started, the last ones only', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'longlived-retire-'));
    try {
      const log = path.join(dir, 'bake.log');
      writeFileSync(log, ['[t0] bake-watch pid 41 for shop', 'old line', '[t1] bake-watch pid 42 for shop', 'retire: slot a holds 2 long-lived connection(s)', 'ok drain     slot a exited', ''].join('\n'));
      expect(watcherLines(log, 42)).toEqual(['retire: slot a holds 2 long-lived connection(s)', 'ok drain     slot a exited']);
      expect(watcherLines(log, 42, 1)).toEqual(['ok drain     slot a exited']);
      expect(watcherLines(log, 4)).toEqual([]);
      expect(watcherLines(path.join(dir, 'none.log'), 42)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
