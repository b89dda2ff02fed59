import type { Summary } from './summary.ts';
import type { StrategyRun } from './types.ts';

export type TargetResult = { strategy: string; target: string; value: string; met: boolean };

const ms = (value: number | null | undefined) => (value === null || value === undefined ? '–' : `${Math.round(value)} ms`);

/** The targets Switchyard is held to, checked for one Switchyard run. */
export function evaluateTargets(run: StrategyRun, summary: Summary): TargetResult[] {
  const strategy = run.name;
  const results: TargetResult[] = [];
  results.push({
    strategy,
    target: '0 failed requests over all cycles',
    value: `${summary.failed} of ${summary.requests}`,
    met: summary.failed === 0 && summary.requests > 0 && summary.failedCycles === 0,
  });
  const { p99: steady } = summary.fastSteady;
  const { p99: during } = summary.fastSwitch;
  results.push({
    strategy,
    target: 'switch-window fast p99 ≤ 2× steady p99',
    value: `${ms(during)} vs 2× ${ms(steady)}`,
    met: steady !== null && during !== null && during <= 2 * steady,
  });
  const deploys = run.windows.filter((window) => window.command === 'deploy' && window.ok && window.phases);
  const overheads = deploys.map((window) => window.phases!.overhead);
  const worstOverhead = overheads.length ? Math.max(...overheads) : null;
  results.push({
    strategy,
    target: 'toolkit overhead ≤ 1 s per deploy',
    value: `max ${ms(worstOverhead)} (median ${ms(summary.commands.deploy?.phases.overhead)})`,
    met: worstOverhead !== null && worstOverhead <= 1000,
  });
  const rollbacks = run.windows.filter((window) => window.command === 'rollback' && window.ok && window.phases);
  const excess = rollbacks.map((window) => ({ wall: window.end - window.start, boot: window.phases!.boot }));
  const worst = excess.sort((a, b) => b.wall - b.boot - (a.wall - a.boot))[0];
  results.push({
    strategy,
    target: 'rollback wall ≤ boot-to-healthy + 1 s',
    value: worst ? `worst: ${ms(worst.wall)} vs ${ms(worst.boot)} + 1 s` : 'no rollback measured',
    met: worst !== undefined && worst.wall <= worst.boot + 1000,
  });
  return results;
}
