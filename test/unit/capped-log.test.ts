import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCappedLog } from '../../lib/record/capped-log.ts';

describe('a capped log (deploy logs)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-defects-b-capped-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the first and the last lines of a huge output, whole, with one marker counting what was left out', () => {
    const file = path.join(dir, 'huge.log');
    const log = openCappedLog(file, { headBytes: 10_000, tailBytes: 10_000 });
    const lines = Array.from({ length: 20_000 }, (_, index) => `line ${index} ${'x'.repeat(40)}`);
    for (const line of lines) log.write(line);
    log.close();
    const text = readFileSync(file, 'utf8');
    expect(statSync(file).size).toBeLessThanOrEqual(10_000 + 200 + 2 * 10_000);
    const kept = text.split('\n').filter(Boolean);
    expect(kept[0]).toBe(lines[0]);
    expect(kept.at(-1)).toBe(lines.at(-1));
    const markers = kept.filter((line) => line.startsWith('[switchyard: '));
    expect(markers).toHaveLength(1);
    const omitted = Number(/\[switchyard: (\d+) bytes of output left out here/.exec(markers[0])?.[1]);
    // Every other line is one of the output's, whole and in order; what is missing is exactly what the marker counts.
    const others = kept.filter((line) => !line.startsWith('[switchyard: '));
    for (const line of others) expect(lines).toContain(line);
    const total = lines.reduce((sum, line) => sum + line.length + 1, 0);
    expect(others.reduce((sum, line) => sum + line.length + 1, 0) + omitted).toBe(total);
  });

  it('a small output is written as it is', () => {
    const file = path.join(dir, 'small.log');
    const log = openCappedLog(file);
    log.write('one');
    log.write('two');
    log.close();
    expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
