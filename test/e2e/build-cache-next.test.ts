import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { hashTree } from '../support/tree-hash.ts';

const NEXT_APP = fileURLToPath(new URL('../fixtures/next-app', import.meta.url));
const short = (commit: string) => commit.slice(0, 7);

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' },
  }).trim();
}

/** Every file under `dir`, for when a tree is not what it should be. */
function files(dir: string, relative = '.'): string[] {
  const full = path.join(dir, relative);
  if (!lstatSync(full).isDirectory()) return [relative];
  return readdirSync(full).flatMap((name) => files(dir, path.join(relative, name)));
}

/**
 * A real Next.js 16 app (test/fixtures/next-app: App Router, `/`, `/about`, `/health`) deployed
 * through real nginx as root: npm ci runs once (the first deploy; later ones copy its node_modules),
 * `next build` runs offline.
 */
describe('build cache on a real Next.js app', () => {
  let host: TestHost;
  let scratch: string;
  let repo: string;
  const commits: Record<string, string> = {};
  const release = (commit: string) => path.join(host.deployRoot, 'releases', commit);
  // npm ci of next and a cold `next build` on two busy cores take minutes, not the harness's 120 s.
  const run = async (args: string[]) => {
    const result = await execa(DEPLOY_TS, args, { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' }, reject: false, all: true, cwd: host.dir, timeout: 900_000 });
    return { exitCode: result.exitCode ?? -1, stdout: result.stdout, output: result.all ?? '' };
  };
  const commit = (version: string) => {
    writeFileSync(path.join(repo, 'app/version.js'), `export const version = '${version}';\n`);
    git(repo, 'add', '--all');
    git(repo, 'commit', '--quiet', '-m', `next app ${version}`);
    return (commits[version] = git(repo, 'rev-parse', 'HEAD'));
  };
  const deploy = async (version: string) => {
    commit(version);
    const result = await run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    const page = await host.get('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain(`<p id="version">${version}</p>`);
    return result;
  };

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'switchyard-buildcache-next-'));
    repo = path.join(scratch, 'repo');
    cpSync(NEXT_APP, repo, { recursive: true, filter: (source) => !/[/\\](node_modules|\.next)$/.test(source) });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    host = await createTestHost({ env: { REPO: repo, START_CMD: 'npm start', HEALTH_TIMEOUT: '120s' } });
    const telemetry = await run(['env', 'set', 'NEXT_TELEMETRY_DISABLED=1']);
    expect(telemetry.exitCode, telemetry.output).toBe(0);
  }, 180_000);
  afterAll(async () => {
    await host?.cleanUp();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 600_000);

  it('the first deploy installs and builds cold', async () => {
    const result = await deploy('v1');
    expect(result.stdout).toMatch(/^ok install +npm ci/m);
    expect(result.stdout).toMatch(/^ok build .*cold: no kept release has \.next\/cache or node_modules\/\.cache/m);
    expect(existsSync(path.join(release(commits.v1), '.next/cache'))).toBe(true);
    expect((await host.get('/health')).json).toMatchObject({ ok: true, version: 'v1' });
  }, 900_000);

  it('a one-line change builds warm from the first release\'s .next/cache, which stays byte for byte the same', async () => {
    // Next.js writes its route cache into the running release on a page's first request: make those first.
    for (const page of ['/', '/about']) expect((await host.get(page)).status).toBe(200);
    const before = hashTree(release(commits.v1));
    const listed = files(release(commits.v1)).join('\n');
    const result = await deploy('v2');
    expect(result.stdout).toMatch(new RegExp(`^ok install +same lockfile as release ${short(commits.v1)}`, 'm'));
    expect(result.stdout).toMatch(new RegExp(`^ok build .*warm from release ${short(commits.v1)} \\(the newest kept release with a cache: \\.next/cache`, 'm'));
    expect(hashTree(release(commits.v1)), `files before:\n${listed}\nafter:\n${files(release(commits.v1)).join('\n')}`).toBe(before);
    expect((await host.get('/about')).status).toBe(200);
  }, 900_000);

  it('a corrupted cache folder still deploys', async () => {
    // The next build is for slot a, which last ran v1: garble every file of v1's cache.
    const cache = path.join(release(commits.v1), '.next/cache');
    for (const file of files(cache)) writeFileSync(path.join(cache, file), 'not a cache\n');
    writeFileSync(path.join(cache, 'stray'), 'x');
    const result = await deploy('v3');
    expect(result.stdout).toMatch(new RegExp(`^ok build .*(warm from release ${short(commits.v1)} \\(slot a last ran it|cold: the warm build from release ${short(commits.v1)}'s cache failed)`, 'm'));
    expect((await host.get('/health')).json).toMatchObject({ ok: true, version: 'v3' });
  }, 900_000);
});
