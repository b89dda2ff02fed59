/**
 * `node --import tsx bench/profile.ts [--runs N] [--bake]`: where a deploy's (and, with --bake, a
 * rollback-in-the-bake-window's) wall time goes, on the bench's own host (harness/host.ts: real git
 * repo, real nginx, SWITCH=nginx-live-file), no load. Runs ./deploy.ts <command> --json as the bench
 * does and prints, per run, spawn → first step, each step's own time, the gaps between steps (work
 * the table does not time: state writes, re-checks, hooks), the tail after the last event, and the
 * overhead the bench counts (wall − install − build − start − health − drain).
 */
import { parseArgs } from 'node:util';
import { createTestHost } from '../harness/host.ts';
import { parseEvents, phasesOf } from './strategies/switchyard.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '8' }, bake: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const bake = values.bake;

const host = await createTestHost({ switchKind: 'nginx-live-file', ...(bake ? { env: { BAKE_TIME: '5m' } } : {}) });
const rows: Record<string, number>[] = [];
try {
  const first = await host.run(['deploy', '--json']);
  if (first.exitCode !== 0) throw new Error(first.output);
  let version = 1;
  for (let index = 1; index <= runs; index++) {
    const command = bake && index % 2 === 0 ? 'rollback' : 'deploy';
    if (command === 'deploy') host.example.commit(`v${++version}`);
    const start = Date.now();
    const result = await host.run([command, '--json']);
    const end = Date.now();
    if (result.exitCode !== 0) throw new Error(result.output);
    const events = parseEvents(result.stdout);
    const row: Record<string, number> = { wall: end - start };
    let cursor: number | undefined;
    for (const event of events) {
      if (event.event !== 'step' || !event.at || typeof event.ms !== 'number') continue;
      const stepEnd = Date.parse(event.at);
      const stepStart = stepEnd - event.ms;
      if (cursor === undefined) row['spawn→lock'] = stepStart - start;
      else row[`gap→${event.step}`] = (row[`gap→${event.step}`] ?? 0) + stepStart - cursor;
      row[event.step!] = (row[event.step!] ?? 0) + event.ms;
      cursor = stepEnd;
    }
    const last = events.at(-1);
    if (cursor !== undefined && last?.at) row['gap→success'] = Date.parse(last.at) - cursor;
    if (last?.at) row['success→exit'] = end - Date.parse(last.at);
    row.overhead = phasesOf(events, start, end).overhead;
    rows.push({ ...row, [`is ${command}`]: 1 });
  }
} finally {
  await host.cleanUp();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length / 2) - 1];
for (const command of ['deploy', 'rollback']) {
  const mine = rows.filter((row) => row[`is ${command}`]);
  if (!mine.length) continue;
  const keys = [...new Set(mine.flatMap((row) => Object.keys(row)))].filter((key) => !key.startsWith('is '));
  console.log(`\n${command} (n=${mine.length}): median / max ms`);
  for (const key of keys) {
    const values = mine.map((row) => row[key] ?? 0);
    console.log(`  ${key.padEnd(16)} ${String(median(values)).padStart(5)} / ${String(Math.max(...values)).padStart(5)}   [${values.join(' ')}]`);
  }
}
