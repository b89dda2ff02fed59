/**
 * `npm run bench:build-cache [-- --runs N --out DIR]`: what BUILD_CACHE_PATHS saves on a real Next.js
 * 16 app (test/fixtures/next-app: App Router, three routes). On the harness host (real nginx, a real
 * git repo, `./deploy.ts deploy --json` as an operator runs it) it deploys v1 (npm ci and a cold
 * build; not measured), then N pairs of one-line changes (app/version.js): one with `--cold` (the
 * build starts from nothing, as every build did before the cache) and one plain (warm: the idle
 * slot's last release's .next/cache is copied in), alternating so both share the host's noise. Both
 * use the install cache (the lockfile never changes). Prints medians of the build step and of the
 * deploy's wall time, and writes them to DIR/build-cache.md. Exit code 1 when a deploy failed or did
 * not take the path it was meant to.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { createTestHost, DEPLOY_TS, type TestHost } from '../harness/host.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { renderMarkdown, renderText, seconds, type Section } from './report/table.ts';
import { startPath } from './startup.ts';
import { parseEvents } from './strategies/switchyard.ts';
import { median } from './summary.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const NEXT_APP = fileURLToPath(new URL('../test/fixtures/next-app', import.meta.url));

type Mode = 'cold' | 'warm';
type Sample = { mode: Mode; wallMs: number; buildMs: number; installMs: number; detail: string };

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid' },
  }).trim();
}

function commit(repo: string, version: string): void {
  writeFileSync(path.join(repo, 'app/version.js'), `export const version = '${version}';\n`);
  git(repo, 'add', '--all');
  git(repo, 'commit', '--quiet', '-m', `bench next app ${version}`);
}

async function deploy(host: TestHost, args: string[]) {
  const start = Date.now();
  const result = await execa(DEPLOY_TS, ['deploy', '--json', ...args], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' }, reject: false, all: true, cwd: host.dir, timeout: 900_000 });
  const wallMs = Date.now() - start;
  const events = parseEvents(result.stdout);
  const step = (name: string) => events.find((event) => event.event === 'step' && event.step === name);
  const ok = result.exitCode === 0 && events.some((event) => event.event === 'success');
  return { ok, wallMs, buildMs: step('build')?.ms ?? NaN, installMs: step('install')?.ms ?? NaN, detail: step('build')?.detail ?? '', install: step('install')?.detail ?? '', output: `exit ${result.exitCode}: ${(result.all ?? '').slice(-1500)}` };
}

let active: TestHost | undefined;

async function measure(runs: number, log: (line: string) => void) {
  const problems: string[] = [];
  const samples: Sample[] = [];
  let first: Awaited<ReturnType<typeof deploy>> | undefined;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-build-'));
  try {
    const repo = path.join(scratch, 'repo');
    cpSync(NEXT_APP, repo, { recursive: true, filter: (source) => !/[/\\](node_modules|\.next)$/.test(source) });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    commit(repo, 'v1');
    const host = (active = await createTestHost({ env: { REPO: repo, START_CMD: 'npm start', HEALTH_TIMEOUT: '120s' } }));
    execFileSync(DEPLOY_TS, ['env', 'set', 'NEXT_TELEMETRY_DISABLED=1'], { env: { ...process.env, DEPLOY_ENV_FILE: host.envFile } });
    first = await deploy(host, []);
    if (!first.ok) throw new Error(`the first deploy failed: ${first.output}`);
    log(`  v1 deployed (not measured) in ${first.wallMs} ms: install ${first.installMs} ms, build ${first.buildMs} ms (${first.detail})`);
    let version = 1;
    for (let run = 1; run <= runs; run++) {
      for (const mode of ['cold', 'warm'] as const) {
        commit(repo, `v${++version}`);
        const result = await deploy(host, mode === 'cold' ? ['--cold'] : []);
        log(`  ${mode}, run ${run}: deploy v${version} ${result.ok ? 'ok' : 'FAILED'} in ${result.wallMs} ms; build ${result.buildMs} ms: ${result.detail}`);
        if (!result.ok) {
          problems.push(`deploy v${version} (${mode}) failed: ${result.output}`);
          continue;
        }
        if (/ warm from release /.test(result.detail) !== (mode === 'warm')) {
          problems.push(`deploy v${version} was meant to build ${mode}, but its build step said: ${result.detail}`);
          continue;
        }
        samples.push({ mode, wallMs: result.wallMs, buildMs: result.buildMs, installMs: result.installMs, detail: result.detail });
      }
    }
  } catch (error) {
    problems.push((error as Error).message);
  } finally {
    await active?.cleanUp().catch((error) => problems.push(`tear-down: ${(error as Error).message}`));
    active = undefined;
    rmSync(scratch, { recursive: true, force: true });
  }
  return { samples, problems, first };
}

function section(samples: Sample[], runs: number, start: 'bundle' | 'tsx'): Section {
  const of = (mode: Mode) => {
    const picked = samples.filter((sample) => sample.mode === mode);
    return {
      n: picked.length,
      build: median(picked.map((s) => s.buildMs)),
      wall: median(picked.map((s) => s.wallMs)),
      install: median(picked.map((s) => s.installMs)),
    };
  };
  const cold = of('cold');
  const warm = of('warm');
  const rows = [
    ['cold (deploy --cold)', `${cold.n}`, seconds(cold.build), seconds(cold.install), seconds(cold.wall)],
    ['warm (deploy)', `${warm.n}`, seconds(warm.build), seconds(warm.install), seconds(warm.wall)],
  ];
  if (cold.build !== null && warm.build !== null && cold.wall !== null && warm.wall !== null) {
    rows.push(['warm / cold', '', `${(warm.build / cold.build).toFixed(2)}x`, '', `${(warm.wall / cold.wall).toFixed(2)}x`]);
    rows.push(['saved', '', seconds(cold.build - warm.build), '', seconds(cold.wall - warm.wall)]);
  }
  return {
    title: `Build cache on a Next.js 16 app: the deploy of a one-line change, cold and warm (medians of ${runs} each)`,
    header: ['build', 'n', 'build step', 'install step', 'deploy wall'],
    rows,
    note:
      'test/fixtures/next-app (next 16.4.6, react 19.2.9; App Router: /, /about, /health), BUILD_CMD=npm run build --if-present (next build, Turbopack), default BUILD_CACHE_PATHS (.next/cache node_modules/.cache). ' +
      'Each deploy changes one line (app/version.js); cold = `deploy --cold`, warm = `deploy` (the idle slot\'s last release\'s .next/cache copied in with `cp -a --reflink=auto`). Both copy node_modules from the install cache. ' +
      `Wall = spawning ./deploy.ts deploy --json (${start === 'bundle' ? 'through the bundle in dist/' : 'through tsx: the bundle was stale'}) to its exit, with no load; BAKE_TIME=0, so it includes draining and stopping the old slot. Deploys alternate cold/warm on one host.`,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: 'string', default: '3' }, out: { type: 'string', default: 'bench/results' } }, strict: true });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be an integer from 1 to 20, got ${values.runs}`);
  const host = hostInfo();
  console.log(`switchyard bench: the build cache, ${runs} cold and ${runs} warm deploys of a Next.js app, on ${describeHost(host)}`);
  console.log(execFileSync(process.execPath, [path.join(PROJECT_DIR, 'tools', 'bundle.mjs')], { encoding: 'utf8' }).trim());
  const { samples, problems, first } = await measure(runs, (line) => console.log(line));
  for (const problem of problems) console.log(`  problem: ${problem}`);
  const env = { ...process.env };
  delete env.SWITCHYARD_NO_BUNDLE;
  const table = section(samples, runs, startPath(DEPLOY_TS, env));
  console.log(renderText([table]));
  const markdown = [
    `## Build cache (${runs} cold and ${runs} warm deploys of a one-line change to a Next.js app)`,
    '',
    `Host: ${describeHost(host)}. Date: ${host.date}. Switchyard at ${host.commit}.`,
    `Run with \`npm run bench:build-cache -- --runs ${runs}\` (bench/build-cache.ts).`,
    ...(first?.ok ? ['', `The first deploy (not measured): ${seconds(first.wallMs)}, of which npm ci ${seconds(first.installMs)} and a cold build ${seconds(first.buildMs)}.`] : []),
    '',
    renderMarkdown([table]),
    ...(problems.length ? ['### Problems during the run', '', ...problems.map((problem) => `- ${problem.replaceAll('\n', ' ')}`), ''] : []),
  ].join('\n');
  mkdirSync(values.out, { recursive: true });
  const file = path.join(values.out, 'build-cache.md');
  writeFileSync(file, markdown);
  console.log(`\nwrote ${file}`);
  return problems.length ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping what the bench started`);
    void (active?.cleanUp() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
main().then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(`bench:build-cache failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 2;
  },
);
