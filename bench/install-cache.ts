/**
 * `npm run bench:install [-- --runs N --apps example,real --out DIR]`: what the install cache saves.
 * On the harness host (a real nginx, a real git repo, `./deploy.ts deploy --json` as an operator runs
 * it) it deploys, for each app, N commits WITHOUT the cache (each bumps the version in package.json
 * and package-lock.json, as `npm version patch` would, so the lockfile differs from every kept
 * release's and INSTALL_CMD runs) and N commits WITH it (only VERSION changes, so the lockfile equals
 * the previous release's and its node_modules are copied), alternating so both share the host's
 * noise. Prints medians of the deploy's wall time and its install step, and writes them to
 * DIR/install-cache.md. Exit code 1 when a deploy failed or did not take the path it was meant to.
 *
 * Apps: `example` is templates/example-app (no dependencies); `real` is bench/fixtures/real-app, an
 * Express server whose package.json pulls in ~300 packages (its package-lock.json was generated once
 * with `npm install --package-lock-only --no-audit --no-fund` and is committed, so every run installs
 * the same tree).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestHost, DEPLOY_TS, type TestHost } from '../harness/host.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { renderMarkdown, renderText, seconds, type Section } from './report/table.ts';
import { startPath } from './startup.ts';
import { parseEvents } from './strategies/switchyard.ts';
import { median } from './summary.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const REAL_APP = fileURLToPath(new URL('./fixtures/real-app', import.meta.url));
const INSTALL_CMD = 'npm ci --no-audit --no-fund --loglevel=error';
const APPS = ['example', 'real'] as const;
type AppName = (typeof APPS)[number];
type Repo = { repo: string; commit: (version: string, change?: (dir: string) => void) => string };

type Sample = { cache: 'without' | 'with'; wallMs: number; installMs: number; detail: string };
type AppResult = { app: AppName; packages: number; files: number; samples: Sample[]; problems: string[] };

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.invalid' },
  }).trim();
}

/** A git repository holding bench/fixtures/real-app, at v1 (the same shape as harness/example-repo.ts). */
function createRealAppRepo(dir: string): Repo {
  cpSync(REAL_APP, dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  const commit = (version: string, change?: (dir: string) => void) => {
    writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
    change?.(dir);
    git(dir, 'add', '--all');
    git(dir, 'commit', '--quiet', '--allow-empty', '-m', `bench real app ${version}`);
    return git(dir, 'rev-parse', 'HEAD');
  };
  commit('v1');
  return { repo: dir, commit };
}

/** What `npm version <version> --no-git-tag-version` changes: package.json's and the lockfile's version. */
function bumpVersion(dir: string, version: string): void {
  const edit = (file: string, change: (json: any) => void) => {
    const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    change(json);
    writeFileSync(path.join(dir, file), `${JSON.stringify(json, null, 2)}\n`);
  };
  edit('package.json', (json) => (json.version = version));
  edit('package-lock.json', (json) => {
    json.version = version;
    if (json.packages?.['']) json.packages[''].version = version;
  });
}

/** Packages in a lockfile (v2/v3: every node_modules/ entry). */
function lockfilePackages(dir: string): number {
  const lock = JSON.parse(readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
  return Object.keys(lock.packages ?? {}).filter((key) => key.includes('node_modules/')).length;
}

function countFiles(dir: string): number {
  let count = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) count += entry.isDirectory() ? countFiles(path.join(dir, entry.name)) : 1;
  return count;
}

async function deploy(host: TestHost): Promise<{ ok: boolean; wallMs: number; installMs: number; detail: string; output: string }> {
  const start = Date.now();
  const result = await host.run(['deploy', '--json']);
  const wallMs = Date.now() - start;
  const events = parseEvents(result.stdout);
  const install = events.find((event) => event.event === 'step' && event.step === 'install');
  const ok = result.exitCode === 0 && events.some((event) => event.event === 'success') && install?.ok === true;
  return { ok, wallMs, installMs: install?.ms ?? NaN, detail: install?.detail ?? '', output: `exit ${result.exitCode}: ${result.output.slice(-1500)}` };
}

let active: TestHost | undefined;

async function measureApp(app: AppName, runs: number, log: (line: string) => void): Promise<AppResult> {
  const problems: string[] = [];
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-install-'));
  let host: TestHost | undefined;
  try {
    const realRepo = app === 'real' ? createRealAppRepo(path.join(scratch, 'repo')) : undefined;
    host = active = await createTestHost({ env: { INSTALL_CMD, ...(realRepo ? { REPO: realRepo.repo } : {}) } });
    const repo: Repo = realRepo ?? host.example;
    const packages = lockfilePackages(repo.repo);
    // The first deploy is not measured: it fills ~/.npm (npm ci's cache) and starts the first slot.
    const first = await deploy(host);
    if (!first.ok) throw new Error(`the first deploy failed: ${first.output}`);
    const [firstRelease] = readdirSync(path.join(host.deployRoot, 'releases'));
    const files = countFiles(path.join(host.deployRoot, 'releases', firstRelease, 'node_modules'));
    log(`  v1 deployed (not measured) in ${first.wallMs} ms; install ${first.installMs} ms: ${first.detail}`);
    const samples: Sample[] = [];
    let version = 1;
    for (let run = 1; run <= runs; run++) {
      for (const cache of ['without', 'with'] as const) {
        const v = ++version;
        repo.commit(`v${v}`, cache === 'without' ? (dir) => bumpVersion(dir, `1.0.${v}`) : undefined);
        const result = await deploy(host);
        const reused = /^same lockfile as release /.test(result.detail);
        log(`  ${cache} cache, run ${run}: deploy v${v} ${result.ok ? 'ok' : 'FAILED'} in ${result.wallMs} ms; install ${result.installMs} ms: ${result.detail}`);
        if (!result.ok) {
          problems.push(`deploy v${v} (${cache} cache) failed: ${result.output}`);
          continue;
        }
        if (reused !== (cache === 'with')) {
          problems.push(`deploy v${v} was meant to run ${cache === 'with' ? 'with' : 'without'} the cache, but its install step said: ${result.detail}`);
          continue;
        }
        samples.push({ cache, wallMs: result.wallMs, installMs: result.installMs, detail: result.detail });
      }
    }
    return { app, packages, files, samples, problems };
  } catch (error) {
    problems.push(`${app}: ${(error as Error).message}`);
    return { app, packages: 0, files: 0, samples: [], problems };
  } finally {
    await host?.cleanUp().catch((error) => problems.push(`tear-down: ${(error as Error).message}`));
    active = undefined;
    rmSync(scratch, { recursive: true, force: true });
  }
}

const APP_LABEL: Record<AppName, string> = {
  example: 'example app (no dependencies)',
  real: 'real app (Express + ~20 deps)',
};

function section(results: AppResult[], runs: number, start: 'bundle' | 'tsx'): Section {
  const rows: string[][] = [];
  for (const result of results) {
    const pick = (cache: Sample['cache']) => result.samples.filter((sample) => sample.cache === cache);
    const medians = (cache: Sample['cache']) => {
      const samples = pick(cache);
      return { n: samples.length, wall: median(samples.map((s) => s.wallMs)), install: median(samples.map((s) => s.installMs)) };
    };
    const without = medians('without');
    const withCache = medians('with');
    const size = result.app === 'example' ? '0 packages' : `${result.packages} packages, ${result.files.toLocaleString('en')} files`;
    for (const [label, m] of [['without', without], ['with', withCache]] as const) {
      rows.push([
        APP_LABEL[result.app],
        size,
        label,
        `${m.n}`,
        seconds(m.wall),
        m.install === null ? '–' : `${Math.round(m.install)} ms`,
        m.wall === null || m.install === null ? '–' : seconds(m.wall - m.install),
      ]);
    }
    if (without.wall !== null && withCache.wall !== null && without.install !== null && withCache.install !== null) {
      rows.push([APP_LABEL[result.app], size, 'saved', '', seconds(without.wall - withCache.wall), `${Math.round(without.install - withCache.install)} ms`, '']);
    }
  }
  return {
    title: `Install cache: deploy wall time and install step, without and with it (medians of ${runs} deploys each)`,
    header: ['app', 'node_modules', 'install cache', 'n', 'deploy wall', 'install step', 'wall − install'],
    rows,
    note:
      `INSTALL_CMD="${INSTALL_CMD}". Without = a commit that bumps the version in package.json and package-lock.json (as \`npm version patch\` would): its lockfile differs from every kept release's, so npm ci runs. ` +
      'With = a commit that changes only a file the lockfile does not cover (VERSION): its lockfile equals the previous release\'s, whose node_modules are copied (`cp -a --reflink=auto`: copy-on-write where the filesystem can) and npm ci is not run (the example app has no node_modules: nothing to copy). ' +
      'npm\'s cache (~/.npm) is warm: the first, unmeasured deploy fills it, so every tarball npm ci needs is already on the host; that is the fair case for npm ci. ' +
      `Wall = spawning ./deploy.ts deploy --json (${start === 'bundle' ? 'through the bundle in dist/' : 'through tsx: the bundle was stale'}) to its exit, with no load; BAKE_TIME=0 (the harness's), so it includes draining and stopping the old slot. Deploys alternate without/with, on one host per app.`,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { runs: { type: 'string', default: '3' }, apps: { type: 'string', default: APPS.join(',') }, out: { type: 'string', default: 'bench/results' } },
    strict: true,
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`--runs must be an integer from 1 to 50, got ${values.runs}`);
  const apps = values.apps.split(',').map((name) => name.trim()).filter(Boolean);
  for (const app of apps) if (!(APPS as readonly string[]).includes(app)) throw new Error(`unknown app ${app} (${APPS.join(', ')})`);

  const host = hostInfo();
  console.log(`switchyard bench: the install cache, ${runs} deploys without and with it per app, on ${describeHost(host)}`);
  // As `npm run bench` does: deploys go through the bundle, as they would on a host.
  console.log(execFileSync(process.execPath, [path.join(PROJECT_DIR, 'tools', 'bundle.mjs')], { encoding: 'utf8' }).trim());
  const results: AppResult[] = [];
  for (const app of apps as AppName[]) {
    console.log(`\n▶ ${APP_LABEL[app]}`);
    const result = await measureApp(app, runs, (line) => console.log(line));
    for (const problem of result.problems) console.log(`  problem: ${problem}`);
    results.push(result);
  }
  const env = { ...process.env };
  delete env.SWITCHYARD_NO_BUNDLE;
  const start = startPath(DEPLOY_TS, env);
  const table = section(results, runs, start);
  console.log(renderText([table]));

  const problems = results.flatMap((result) => result.problems.map((problem) => `- ${result.app}: ${problem.replaceAll('\n', ' ')}`));
  const markdown = [
    `## Install cache (${runs} deploys without and with it, per app)`,
    '',
    `Host: ${describeHost(host)}. Date: ${host.date}. Switchyard at ${host.commit}.`,
    `Run with \`npm run bench:install -- --runs ${runs}\` (bench/install-cache.ts).`,
    '',
    renderMarkdown([table]),
    ...(problems.length ? ['### Problems during the run', '', ...problems, ''] : []),
  ].join('\n');
  mkdirSync(values.out, { recursive: true });
  const file = path.join(values.out, 'install-cache.md');
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
    console.error(`bench:install failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 2;
  },
);
