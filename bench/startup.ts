/**
 * `npm run bench:startup [-- --runs N]` (also the first section of `npm run bench`): how long
 * `./deploy.ts --version`, `status` and `deploy --dry-run` take from exec to exit, through tsx
 * (SWITCHYARD_NO_BUNDLE=1), through the bundle in dist/, and through `switchyard` as `npm install -g`
 * of the packed project installs it, against `node -e 0`. The variants run
 * round-robin so they share the host's noise; medians of N runs. They run in a snapshot of the
 * project (node_modules linked), so an edit to the sources during the run cannot turn the bundle's
 * figures into tsx's; the project's own dist/ is built too, for the deploys a full bench runs next.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { renderText, type Section } from './report/table.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
/** What the CLI needs at run time, besides node_modules. */
const SNAPSHOT = ['deploy.ts', 'lib', 'scripts', 'tools', 'templates', 'package.json', 'tsconfig.json'];

/** The targets: multiples of `node -e 0` for the bundle, measured in the same run. */
const TARGETS: Record<string, number> = { '--version': 1.5, status: 3 };
const COMMANDS: [string, string[]][] = [
  ['--version', ['--version']],
  ['status', ['status']],
  ['deploy --dry-run', ['deploy', '--dry-run']],
];

export type StartupRow = { command: string; tsxMs: number; bundleMs: number; installedMs: number; target?: number };
export type StartupResult = { runs: number; nodeMs: number; rows: StartupRow[]; problems: string[] };

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Wall time of one run, exec to exit; a failing command is a problem of the measurement, not a figure. */
function timeRun(argv: string[], env: NodeJS.ProcessEnv, problems: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(argv[0], argv.slice(1), { env, cwd: os.tmpdir(), stdio: ['ignore', 'ignore', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) problems.push(`${argv.slice(1).join(' ')} exited with ${result.status ?? result.signal}: ${String(result.stderr).trim().split('\n')[0]}`);
  return elapsed;
}

/** Which program deploy.ts's preamble runs now: `sh -x` shows its exec line. */
export function startPath(deployTs: string, env: NodeJS.ProcessEnv): 'bundle' | 'tsx' {
  const trace = spawnSync('sh', ['-x', deployTs, '--version'], { env, encoding: 'utf8' }).stderr;
  return /exec node \S*\/dist\/deploy\.mjs/.test(trace) ? 'bundle' : 'tsx';
}

const build = (projectDir: string) => execFileSync(process.execPath, [path.join(projectDir, 'tools', 'bundle.mjs')], { encoding: 'utf8' }).trim();

/** A snapshot of the project with its bundle, and a real .env (SWITCH=none, nothing deployed) so `status` and the dry run read a configuration. */
function makeHost(): { dir: string; deployTs: string; installed: string; envFile: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-startup-'));
  const project = path.join(dir, 'project');
  for (const entry of SNAPSHOT) cpSync(path.join(PROJECT_DIR, entry), path.join(project, entry), { recursive: true });
  symlinkSync(path.join(PROJECT_DIR, 'node_modules'), path.join(project, 'node_modules'));
  build(project);
  // npm's own flow: `npm pack` (its prepack builds the bundle), then a global install into a prefix of ours.
  const packOutput = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: PROJECT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  // prepack's own line comes first on stdout.
  const packed = JSON.parse(packOutput.slice(packOutput.indexOf('[')));
  const globalConfig = execFileSync('npm', ['config', 'get', 'globalconfig'], { encoding: 'utf8' }).trim();
  execFileSync('npm', ['install', '-g', '--prefix', path.join(dir, 'prefix'), '--globalconfig', globalConfig, '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, packed[0].filename)], { stdio: 'ignore' });
  mkdirSync(path.join(dir, 'repo'));
  const envFile = path.join(dir, 'switchyard.env');
  writeFileSync(envFile, `APP_NAME=startup\nREPO=${path.join(dir, 'repo')}\nDEPLOY_ROOT=${path.join(dir, 'root')}\nSWITCH=none\n`);
  return { dir, deployTs: path.join(project, 'deploy.ts'), installed: path.join(dir, 'prefix', 'bin', 'switchyard'), envFile };
}

export function measureStartup(runs: number, log: (line: string) => void = () => {}): StartupResult {
  log(build(PROJECT_DIR));
  const host = makeHost();
  const { deployTs } = host;
  const problems: string[] = [];
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' };
    delete env.SWITCHYARD_NO_BUNDLE;
    if (startPath(deployTs, env) !== 'bundle') problems.push('the bundle is stale right after the build: the "bundle" column is tsx');
    const node: number[] = [];
    const tsx = COMMANDS.map(() => [] as number[]);
    const bundle = COMMANDS.map(() => [] as number[]);
    const installed = COMMANDS.map(() => [] as number[]);
    // One warm-up round (file cache, tsx's transform cache), then round-robin.
    for (let round = 0; round <= runs; round++) {
      const keep = round > 0;
      const nodeMs = timeRun([process.execPath, '-e', '0'], env, problems);
      if (keep) node.push(nodeMs);
      COMMANDS.forEach(([, args], i) => {
        const tsxMs = timeRun([deployTs, ...args], { ...env, SWITCHYARD_NO_BUNDLE: '1' }, problems);
        const bundleMs = timeRun([deployTs, ...args], env, problems);
        const installedMs = timeRun([host.installed, ...args], env, problems);
        if (keep) tsx[i].push(tsxMs);
        if (keep) bundle[i].push(bundleMs);
        if (keep) installed[i].push(installedMs);
      });
      log(`  start-up round ${round}/${runs}${keep ? '' : ' (warm-up)'}`);
    }
    if (startPath(deployTs, env) !== 'bundle') problems.push('the bundle went stale during the run: the "bundle" column is partly tsx');
    return {
      runs,
      nodeMs: median(node),
      rows: COMMANDS.map(([command], i) => ({
        command,
        tsxMs: median(tsx[i]),
        bundleMs: median(bundle[i]),
        installedMs: median(installed[i]),
        target: TARGETS[command],
      })),
      problems: [...new Set(problems)],
    };
  } finally {
    rmSync(host.dir, { recursive: true, force: true });
  }
}

export function startupSection(result: StartupResult): Section {
  const cell = (value: number) => `${Math.round(value)} ms (${(value / result.nodeMs).toFixed(1)}×)`;
  return {
    title: `Start-up of ./deploy.ts against node -e 0 = ${Math.round(result.nodeMs)} ms (medians of ${result.runs} runs, same run)`,
    header: ['command', 'clone: tsx', 'clone: bundle', 'npm install -g', 'target', 'met'],
    rows: result.rows.map((row) => [
      row.command,
      cell(row.tsxMs),
      cell(row.bundleMs),
      cell(row.installedMs),
      row.target ? `≤ ${row.target}×` : '–',
      row.target ? (Math.max(row.bundleMs, row.installedMs) <= row.target * result.nodeMs ? 'yes' : 'NO') : '–',
    ]),
    note: result.problems.length ? result.problems.join('; ') : undefined,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: 'string', default: '15' } }, strict: true });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 200) throw new Error(`--runs must be an integer from 1 to 200, got ${values.runs}`);
  const result = measureStartup(runs, (line) => console.log(line));
  console.log(renderText([startupSection(result)]));
  process.exitCode =
    result.problems.length || result.rows.some((row) => row.target && Math.max(row.bundleMs, row.installedMs) > row.target * result.nodeMs)
      ? 1
      : 0;
}
