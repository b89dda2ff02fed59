import { WARMUP_MS, type Summary } from '../summary.ts';
import type { TargetResult } from '../targets.ts';

/** The results as tables, rendered as aligned text for the terminal or as Markdown. */

export type Section = { title: string; header: string[]; rows: string[][]; note?: string };

const SWITCHYARD_PHASES: [string, string][] = [
  ['startup', 'startup'],
  ['fetch/checkout', 'fetch/checkout'],
  ['install', 'install'],
  ['build', 'build'],
  ['boot', 'boot→healthy'],
  ['switch', 'switch'],
  ['drain', 'drain'],
  ['overhead', 'overhead'],
];

export const ms = (value: number | null | undefined): string => (value === null || value === undefined ? '–' : `${Math.round(value)}`);
export const seconds = (value: number | null | undefined): string => (value === null || value === undefined ? '–' : `${(value / 1000).toFixed(2)} s`);
const pair = (a: string, b: string) => `${a} / ${b}`;

export function isSwitchyard(name: string): boolean {
  return name.startsWith('switchyard');
}

export function sections(summaries: Summary[], targets: TargetResult[]): Section[] {
  const result: Section[] = [];
  result.push({
    title: 'Requests (32 keep-alive connections: 70% GET /, 20% POST /echo, 10% GET /slow 300–1500 ms; no retries)',
    header: ['strategy', 'cycles', 'requests', 'failed', 'failing for', 'fast GET p50 / p99 steady (ms)', 'fast GET p50 / p99 in switch windows (ms)', 'switch window median / max'],
    rows: summaries.map((s) => [
      s.name,
      s.failedCycles ? `${s.cycles} (${s.failedCycles} failed)` : `${s.cycles}`,
      `${s.requests}`,
      `${s.failed}`,
      s.failingSeconds ? `${s.failingSeconds.toFixed(1)} s` : '–',
      pair(ms(s.fastSteady.p50), ms(s.fastSteady.p99)),
      pair(ms(s.fastSwitch.p50), ms(s.fastSwitch.p99)),
      pair(seconds(s.window.median), seconds(s.window.max)),
    ]),
    note: `A switch window runs from the start of the command (deploy, rollback, restart, swap, pm2 reload) to its end; a request is in one if its lifetime overlaps it. Steady = outside every window, after the load's first ${WARMUP_MS / 1000} s. "failing for" counts the 100 ms slices in which a request failed (a closed loop sends failures fast, so the failed count depends on the load).`,
  });
  result.push({
    title: 'Failed requests by type',
    header: ['strategy', 'failures'],
    rows: summaries.map((s) => [s.name, s.failuresByType.length ? s.failuresByType.map(({ key, count }) => `${count}× ${key}`).join(', ') : 'none']),
  });
  const switchyard = summaries.filter((s) => isSwitchyard(s.name));
  if (switchyard.length) {
    result.push({
      title: 'Switchyard commands: wall time and per-phase medians (ms)',
      header: ['strategy', 'command', 'n', 'wall median', 'wall max', ...SWITCHYARD_PHASES.map(([, label]) => label)],
      rows: switchyard.flatMap((s) =>
        Object.entries(s.commands).map(([command, c]) => [s.name, command, `${c.n}`, seconds(c.median), seconds(c.max), ...SWITCHYARD_PHASES.map(([key]) => ms(c.phases[key]))]),
      ),
      note: 'startup = spawning ./deploy.ts (node + tsx) until its first step; fetch includes resolving the revision; boot→healthy = start + health; overhead = wall − install − build − boot→healthy − drain, so it includes startup, lock, state writes and the switch (nginx test, reload, waiting for the old workers).',
    });
  }
  const baselines = summaries.filter((s) => !isSwitchyard(s.name));
  if (baselines.length) {
    result.push({
      title: 'Baselines: the previous version after SIGTERM (ms, median / max)',
      header: ['strategy', 'cycle time median / max', 'old version last answered', 'old process exited'],
      rows: baselines.map((s) => [
        s.name,
        pair(seconds(s.window.median), seconds(s.window.max)),
        pair(ms(s.oldAnswered.median), ms(s.oldAnswered.max)),
        pair(ms(s.oldExit.median), ms(s.oldExit.max)),
      ]),
      note: 'Measured from the SIGTERM the strategy sent (pm2: from the start of `pm2 reload`, which signals its workers itself), using the version field of the load records. ~30000 ms = the naive handler\'s 30 s force-exit timer.',
    });
  }
  if (targets.length) {
    result.push({
      title: 'Targets',
      header: ['strategy', 'target', 'measured', 'met'],
      rows: targets.map((t) => [t.strategy, t.target, t.value, t.met ? 'yes' : 'NO']),
    });
  }
  return result;
}

export function renderText(all: Section[]): string {
  const out: string[] = [];
  for (const section of all) {
    const widths = section.header.map((cell, i) => Math.max(cell.length, ...section.rows.map((row) => (row[i] ?? '').length)));
    const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
    out.push('', section.title, line(section.header), widths.map((width) => '─'.repeat(width)).join('  '));
    for (const row of section.rows) out.push(line(row));
    if (section.note) out.push(`(${section.note})`);
  }
  return out.join('\n');
}

export function renderMarkdown(all: Section[]): string {
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  const out: string[] = [];
  for (const section of all) {
    out.push(`### ${section.title}`, '', `| ${section.header.map(escape).join(' | ')} |`, `|${section.header.map(() => '---').join('|')}|`);
    for (const row of section.rows) out.push(`| ${row.map(escape).join(' | ')} |`);
    if (section.note) out.push('', `_${section.note}_`);
    out.push('');
  }
  return out.join('\n');
}
