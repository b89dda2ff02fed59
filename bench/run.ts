/**
 * `npm run bench [-- --cycles N --strategies a,b --out DIR]`: Switchyard against naive baselines and
 * pm2, each under one keep-alive load through a real unprivileged nginx on loopback. Prints the
 * tables and writes latest.json, latest.svg and latest.md to --out. Exit code 1 when a request
 * failed (or a cycle failed) in any Switchyard strategy.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isReloadReset } from '../harness/load.ts';
import { killLeftovers } from './app-process.ts';
import { parseBenchArgs, type StrategyName } from './args.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { LOAD, measure, TIMING } from './measure.ts';
import { resultsJson } from './report/json.ts';
import { markdownReport } from './report/markdown.ts';
import { renderSvg, svgTitle } from './report/svg.ts';
import { isSwitchyard, renderText, sections } from './report/table.ts';
import { measureStartup, startPath, startupSection } from './startup.ts';
import { DEPLOY_TS } from '../harness/host.ts';
import { passiveNaiveStrategy } from './strategies/passive-naive.ts';
import { pm2Strategy } from './strategies/pm2.ts';
import { restartStrategy } from './strategies/restart.ts';
import { switchyardStrategy } from './strategies/switchyard.ts';
import { summarize } from './summary.ts';
import { bakeRollback, evaluateTargets } from './targets.ts';
import type { Strategy, StrategyRun } from './types.ts';

const FACTORIES: Record<StrategyName, () => Strategy> = {
  switchyard: () => switchyardStrategy('nginx-live-file'),
  'switchyard-bake': () => switchyardStrategy('nginx-live-file', { bake: true }),
  'switchyard-no-handler': () => switchyardStrategy('nginx-live-file', { app: 'no-handler' }),
  'switchyard-reload': () => switchyardStrategy('nginx-reload'),
  'switchyard-passive': () => switchyardStrategy('passive'),
  restart: restartStrategy,
  'passive-naive': passiveNaiveStrategy,
  pm2: pm2Strategy,
};

/** The environment deploy.ts starts in here: the bundle unless it is stale. */
const bundleEnv = { ...process.env };
delete bundleEnv.SWITCHYARD_NO_BUNDLE;

async function main(): Promise<number> {
  const args = parseBenchArgs(process.argv.slice(2));
  const host = hostInfo();
  console.log(`switchyard bench: ${args.cycles} cycles of ${args.strategies.join(', ')} on ${describeHost(host)}`);
  // First, on a quiet host: the CLI's start-up, tsx against the bundle (also `npm run bench:startup`).
  const startup = measureStartup(10, (line) => console.log(line));

  const runs: StrategyRun[] = [];
  for (const name of args.strategies) {
    const started = Date.now();
    console.log(`\n▶ ${name}`);
    active = FACTORIES[name]();
    const run = await measure(active, args.cycles, (line) => console.log(line));
    active = undefined;
    for (const problem of run.problems) console.log(`  problem: ${problem}`);
    if (isSwitchyard(name) && startPath(DEPLOY_TS, bundleEnv) !== 'bundle') {
      console.log('  warning: the bundle in dist/ is stale now (a source changed during the run): this strategy\'s commands ran partly or wholly through tsx, so its startup figures are not the bundle\'s');
    }
    console.log(`  ${run.records.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s (set-up and tear-down included)`);
    runs.push(run);
  }

  const summaries = runs.map(summarize);
  const targets = runs.flatMap((run, i) => (isSwitchyard(run.name) ? evaluateTargets(run, summaries[i], startup.nodeMs) : []));
  const tables = [startupSection(startup), ...sections(summaries, targets)];
  console.log(renderText(tables));
  for (const run of runs.filter((run) => run.name === 'switchyard-bake')) {
    const bake = bakeRollback(run, startup.nodeMs);
    const fmt = (value: number | null) => (value === null ? '–' : `${Math.round(value)} ms`);
    console.log(
      `\nswitchyard-bake: rollback inside the bake window, median ${fmt(bake.median)} (worst ${fmt(bake.worst)}, n=${bake.n}, ${bake.switchOnly} switch only); ` +
        `node -e 0 median ${fmt(startup.nodeMs)} (start-up section, quiet) / ${fmt(bake.nodeUnderLoadMs)} (right after each rollback, under the load); ` +
        `bound max(0.5 s, 5× node) = ${fmt(bake.boundMs)}: ${bake.worst !== null && bake.boundMs !== null && bake.worst <= bake.boundMs ? 'met' : 'NOT met'}`,
    );
  }

  mkdirSync(args.out, { recursive: true });
  writeFileSync(path.join(args.out, 'latest.json'), resultsJson({ host, args, load: LOAD, timing: TIMING, runs, summaries, targets }));
  writeFileSync(path.join(args.out, 'latest.svg'), renderSvg(runs, svgTitle(args.cycles, host), describeHost(host)));
  writeFileSync(path.join(args.out, 'latest.md'), markdownReport(tables, runs, args.cycles, host));
  console.log(`\nwrote ${['latest.json', 'latest.svg', 'latest.md'].map((file) => path.join(args.out, file)).join(', ')}`);

  // nginx-reload's stated cost (a reset of a client connection nginx's reload closes) is reported, not a failure of the run.
  const failedHere = (run: StrategyRun) => run.records.some((record) => record.error !== null && !(run.name === 'switchyard-reload' && isReloadReset(record)));
  const bad = runs.filter((run) => isSwitchyard(run.name) && (failedHere(run) || run.problems.length > 0));
  for (const run of bad) console.log(`\nFAILED: ${run.name} had failed requests or cycles`);
  return bad.length > 0 ? 1 : 0;
}

/** The strategy running now: on Ctrl-C it stops what it started before the bench exits. */
let active: Strategy | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping what the bench started`);
    void (active?.tearDown() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
process.on('exit', killLeftovers);
main().then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(`bench failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 2;
  },
);
