/**
 * `node --import tsx bench/replot.ts [DIR]`: redraw latest.svg and latest.md from DIR/latest.json
 * (default bench/results) without running the benchmark again, e.g. after changing the chart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeHost, type HostInfo } from './host-info.ts';
import { expandRecords } from './report/json.ts';
import { markdownReport } from './report/markdown.ts';
import { renderSvg, svgTitle } from './report/svg.ts';
import { isSwitchyard, sections } from './report/table.ts';
import { summarize } from './summary.ts';
import { evaluateTargets } from './targets.ts';
import type { StrategyRun, SwitchWindow } from './types.ts';

const dir = process.argv[2] ?? 'bench/results';
const document = JSON.parse(readFileSync(path.join(dir, 'latest.json'), 'utf8'));
const host: HostInfo = document.host;
const cycles: number = document.args.cycles;
const runs: StrategyRun[] = document.strategies.map((strategy: any) => {
  const since: number = strategy.loadStart;
  const abs = (at: number | undefined) => (at === undefined ? undefined : at + since);
  return {
    name: strategy.name,
    description: strategy.description,
    loadStart: since,
    loadEnd: since + strategy.loadDurationMs,
    problems: strategy.problems,
    records: expandRecords(strategy.requests, since),
    windows: strategy.windows.map(
      (window: SwitchWindow): SwitchWindow => ({
        ...window,
        start: window.start + since,
        end: window.end + since,
        sigtermAt: abs(window.sigtermAt),
        exitAt: abs(window.exitAt),
        marks: window.marks.map((mark) => ({ name: mark.name, at: mark.at + since })),
      }),
    ),
  };
});
const summaries = runs.map(summarize);
const targets = runs.flatMap((run, i) => (isSwitchyard(run.name) ? evaluateTargets(run, summaries[i]) : []));
writeFileSync(path.join(dir, 'latest.svg'), renderSvg(runs, svgTitle(cycles, host), describeHost(host)));
writeFileSync(path.join(dir, 'latest.md'), markdownReport(sections(summaries, targets), runs, cycles, host));
console.log(`redrew ${path.join(dir, 'latest.svg')} and latest.md from latest.json`);

