import { setTimeout as sleep } from 'node:timers/promises';
import { startLoad, type RequestRecord } from '../harness/load.ts';
import type { Strategy, StrategyRun, SwitchWindow } from './types.ts';

export const LOAD = { connections: 32, mix: { fast: 0.7, post: 0.2, slow: 0.1 }, slowMs: [300, 1500] as [number, number] };

/** Steady state before the first cycle, between cycles and after the last. */
export const TIMING = { steadyMs: 4000, gapMs: 2000, tailMs: 2000 };
/** The load's own bounds: a cycle may take up to a minute (a naive app's 30 s force exit, a slow deploy). */
const PER_CYCLE_BUDGET_MS = 60_000;
const MAX_REQUESTS = 5_000_000;

/**
 * One load through nginx spanning the strategy's whole run: steady state, then each cycle with a
 * pause after it. Set-up and tear-down are outside the load.
 */
export async function measure(strategy: Strategy, cycles: number, log: (line: string) => void): Promise<StrategyRun> {
  const run: StrategyRun = {
    name: strategy.name,
    description: strategy.description,
    loadStart: 0,
    loadEnd: 0,
    records: [],
    windows: [],
    problems: [],
  };
  try {
    const { port } = await strategy.setUp();
    const budgetMs = TIMING.steadyMs + TIMING.tailMs + cycles * (TIMING.gapMs + PER_CYCLE_BUDGET_MS);
    const load = startLoad({ port, ...LOAD, mix: strategy.mix ?? LOAD.mix, maxRequests: MAX_REQUESTS, maxDurationMs: budgetMs });
    run.loadStart = Date.now();
    try {
      await sleep(TIMING.steadyMs);
      for (let index = 1; index <= cycles; index++) {
        const window = await strategy.cycle(index);
        run.windows.push(window);
        log(describeWindow(window, load.records));
        if (!window.ok) run.problems.push(`cycle ${index} (${window.command}) failed: ${window.error ?? 'no detail'}`);
        await sleep(index < cycles ? TIMING.gapMs : TIMING.tailMs);
      }
    } finally {
      run.records = await load.stop();
      run.loadEnd = Date.now();
    }
    if (run.loadEnd - run.loadStart >= budgetMs) run.problems.push(`the load stopped at its time bound (${budgetMs} ms) before the run ended`);
    if (run.records.length >= MAX_REQUESTS) run.problems.push(`the load stopped at its request bound (${MAX_REQUESTS})`);
  } catch (error) {
    run.problems.push(`${strategy.name} stopped early: ${(error as Error).message}`);
  } finally {
    await strategy.tearDown().catch((error) => run.problems.push(`tear-down: ${(error as Error).message}`));
  }
  return run;
}

function describeWindow(window: SwitchWindow, records: RequestRecord[]): string {
  const failed = records.filter((record) => record.error !== null).length;
  const versions = window.fromVersion ? ` ${window.fromVersion} → ${window.toVersion}` : '';
  return `  cycle ${window.cycle}: ${window.command}${versions} ${window.ok ? 'ok' : 'FAILED'} in ${window.end - window.start} ms; ${records.length} requests so far, ${failed} failed`;
}
