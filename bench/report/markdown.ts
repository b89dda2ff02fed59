import { describeHost, type HostInfo } from '../host-info.ts';
import type { StrategyRun } from '../types.ts';
import { renderMarkdown, type Section } from './table.ts';

/** latest.md: the tables with host and date, for the README to include. */
export function markdownReport(tables: Section[], runs: StrategyRun[], cycles: number, host: HostInfo): string {
  const problems = runs.flatMap((run) => run.problems.map((problem) => `- ${run.name}: ${problem.replaceAll('\n', ' ')}`));
  const strategies = runs.map((run) => `- **${run.name}**: ${run.description}`);
  return [
    `## Benchmark (${cycles} cycles per strategy)`,
    '',
    `Host: ${describeHost(host)}. Date: ${host.date}. Switchyard at ${host.commit ?? 'unknown'}.`,
    `Run with \`npm run bench -- --cycles ${cycles}\`; chart: [latest.svg](latest.svg); every request: latest.json.`,
    '',
    ...strategies,
    '',
    renderMarkdown(tables),
    ...(problems.length ? ['### Problems during the run', '', ...problems, ''] : []),
  ].join('\n');
}
