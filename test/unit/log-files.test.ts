import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { followLog, logSeries, readLogTail } from '../../lib/slot/log-files.ts';
import { waitFor } from '../../harness/wait.ts';

/** The reading side of the supervisor's rotation: <log>, <log>.1 (newest rotated), ... */
describe('log files across rotations', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-logs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Rotate as the supervisor does: shift .N, then <log> → .1, then a fresh <log>. */
  function rotate(log: string, keep: number): void {
    for (let index = keep - 1; index >= 1; index--) {
      try {
        renameSync(`${log}.${index}`, `${log}.${index + 1}`);
      } catch {}
    }
    renameSync(log, `${log}.1`);
    writeFileSync(log, '');
  }

  it('readLogTail spans the rotated files, oldest first', () => {
    const log = path.join(dir, 'tail.log');
    writeFileSync(`${log}.2`, 'one\ntwo\n');
    writeFileSync(`${log}.1`, 'three\n\nfour\n');
    writeFileSync(log, 'five\n');
    expect(logSeries(log)).toEqual([log, `${log}.1`, `${log}.2`]);
    expect(readLogTail(log, 3)).toEqual(['three', 'four', 'five']);
    expect(readLogTail(log, 10)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(readLogTail(path.join(dir, 'missing.log'), 5)).toEqual([]);
  });

  it('followLog loses no line when several rotations happen between two polls', async () => {
    const log = path.join(dir, 'follow.log');
    writeFileSync(log, 'before\n');
    const seen: string[] = [];
    const controller = new AbortController();
    const following = followLog(log, (line) => seen.push(line), { pollMs: 50, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 120));
    let n = 0;
    for (let burst = 0; burst < 20; burst++) {
      // 4 rotations per burst, with no pause between them: the follower wakes up only between bursts.
      for (let file = 0; file < 4; file++) {
        appendFileSync(log, Array.from({ length: 50 }, () => `line ${++n}\n`).join(''));
        rotate(log, 100);
      }
      appendFileSync(log, `line ${++n}\n`);
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    await waitFor('the follower to pass on the last line', () => seen.length >= n, { timeoutMs: 10_000, output: () => `${seen.length} of ${n} lines seen` });
    controller.abort();
    await following;
    expect(seen).not.toContain('before');
    expect(seen).toEqual(Array.from({ length: n }, (_, index) => `line ${index + 1}`));
  });

  it('followLog with a tail: the tail ends where following begins, so lines written meanwhile come once, and an unfinished line comes whole', async () => {
    const log = path.join(dir, 'tail-follow.log');
    writeFileSync(`${log}.1`, 'one\ntwo\n');
    writeFileSync(log, 'three\nfour\nfi');
    const seen: string[] = [];
    const controller = new AbortController();
    const following = followLog(log, (line) => seen.push(line), { pollMs: 50, signal: controller.signal, tail: 3 });
    // Written right after the start, before the follower's first look: as a busy app does while `logs -f` starts.
    appendFileSync(log, 've\nsix\n');
    rotate(log, 5);
    appendFileSync(log, 'seven\n');
    await waitFor('the follower to pass on the last line', () => seen.includes('seven'), { timeoutMs: 10_000, output: () => seen.join(',') });
    controller.abort();
    await following;
    expect(seen).toEqual(['two', 'three', 'four', 'five', 'six', 'seven']);
  });
});
