import type { Summary } from './summary.ts';
import type { StrategyRun } from './types.ts';

export type TargetResult = { strategy: string; target: string; value: string; met: boolean };

const ms = (value: number | null | undefined) => (value === null || value === undefined ? '–' : `${Math.round(value)} ms`);

const median = (values: number[]) => (values.length ? [...values].sort((a, b) => a - b)[Math.ceil(values.length / 2) - 1] : null);

/**
 * switchyard-bake's rollbacks inside the bake window: a switch only, and within the bound,
 * max(0.5 s, 5× the start of `node -e 0`): `nodeMs` is the start-up section's (quiet host, same run);
 * without it (replot) the strategy's own, measured right after each rollback under the load.
 */
export function bakeRollback(
  run: StrategyRun,
  nodeMs?: number,
): {
  n: number;
  median: number | null;
  worst: number | null;
  nodeMs: number | null;
  nodeUnderLoadMs: number | null;
  boundMs: number | null;
  switchOnly: number;
} {
  const rollbacks = run.windows.filter((window) => window.command === 'rollback' && window.ok);
  const walls = rollbacks.map((window) => window.end - window.start);
  const nodeUnderLoadMs = median(rollbacks.flatMap((window) => (window.nodeStartMs === undefined ? [] : [window.nodeStartMs])));
  const node = nodeMs ?? nodeUnderLoadMs;
  return {
    n: rollbacks.length,
    median: median(walls),
    worst: walls.length ? Math.max(...walls) : null,
    nodeMs: node,
    nodeUnderLoadMs,
    boundMs: node === null ? null : Math.max(500, 5 * node),
    switchOnly: rollbacks.filter((window) => window.switchOnly).length,
  };
}

/** The targets Switchyard is held to, checked for one Switchyard run (`nodeMs`: `node -e 0`'s start in the same run). */
export function evaluateTargets(run: StrategyRun, summary: Summary, nodeMs?: number): TargetResult[] {
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
    target: 'toolkit overhead ≤ 0.5 s per deploy (median and worst)',
    value: `max ${ms(worstOverhead)} (median ${ms(summary.commands.deploy?.phases.overhead)})`,
    met: worstOverhead !== null && worstOverhead <= 500,
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
  if (run.name === 'switchyard-bake') {
    const bake = bakeRollback(run, nodeMs);
    results.push({
      strategy,
      target: 'rollback inside the bake window is a switch only (no process started)',
      value: `${bake.switchOnly} of ${bake.n}`,
      met: bake.n > 0 && bake.switchOnly === bake.n,
    });
    results.push({
      strategy,
      target: 'rollback right after a deploy ≤ max(0.5 s, 5× node -e 0)',
      value: `worst ${ms(bake.worst)} (median ${ms(bake.median)}) vs max(500, 5 × ${ms(bake.nodeMs)}) = ${ms(bake.boundMs)}; node -e 0 under the load ${ms(bake.nodeUnderLoadMs)}`,
      met: bake.worst !== null && bake.boundMs !== null && bake.worst <= bake.boundMs,
    });
  }
  return results;
}
