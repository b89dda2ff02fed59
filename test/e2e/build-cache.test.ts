import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { parseBuildCachePaths } from '../../lib/config/config.ts';
import { cacheDonorCandidates, carryBuildCache } from '../../lib/release/build-cache.ts';
import { expectedPackages, missingPackages } from '../../lib/release/install-cache.ts';
import type { Config } from '../../lib/config/config.ts';
import type { State } from '../../lib/record/state-shape.ts';
import { hashTree } from '../support/tree-hash.ts';

const MS_APP = fileURLToPath(new URL('../fixtures/ms-app', import.meta.url));
const short = (commit: string) => commit.slice(0, 7);

describe('BUILD_CACHE_PATHS and the donor order (pure)', () => {
  it('parses relative folders, refuses .., .git, node_modules itself and overlaps; empty is none', () => {
    const problems: string[] = [];
    expect(parseBuildCachePaths('.next/cache node_modules/.cache ./dist/cache/', problems)).toEqual(['.next/cache', 'node_modules/.cache', 'dist/cache']);
    expect(problems).toEqual([]);
    expect(parseBuildCachePaths('', problems)).toEqual([]);
    parseBuildCachePaths('/abs ../up .git/x node_modules .next .next/cache', problems);
    expect(problems).toHaveLength(5);
    expect(problems[4]).toMatch(/BUILD_CACHE_PATHS lists ".next\/cache" and ".next", which overlap/);
  });

  it('takes the release the idle slot last ran first, then the other kept releases newest first, never the one being built', () => {
    const release = (commit: string, builtAt: string, complete = true) => ({ commit, builtAt, complete });
    const state = {
      slots: { a: { commit: 'aaa' }, b: { commit: 'bbb' } },
      releases: { aaa: release('aaa', '2026-01-01T00:00:00Z'), bbb: release('bbb', '2026-01-03T00:00:00Z'), ccc: release('ccc', '2026-01-02T00:00:00Z'), ddd: release('ddd', '2026-01-04T00:00:00Z', false) },
    } as unknown as State;
    expect(cacheDonorCandidates(state, 'a', 'new')).toEqual([
      { commit: 'aaa', why: 'slot a last ran it' },
      { commit: 'bbb', why: 'the newest kept release with a cache' },
      { commit: 'ccc', why: 'the newest kept release with a cache' },
    ]);
    expect(cacheDonorCandidates(state, 'b', 'bbb').map((donor) => donor.commit)).toEqual(['ccc', 'aaa']);
  });

  it('a copy that fails is removed and reported, not thrown; then the same copy succeeds', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-buildcache-unit-'));
    try {
      const config = { deployRoot: root, buildCachePaths: ['.next/cache', 'node_modules/.cache'] } as unknown as Config;
      const state = { slots: { a: { commit: 'old' }, b: { commit: null } }, releases: { old: { commit: 'old', builtAt: '2026-01-01T00:00:00Z', complete: true } } } as unknown as State;
      const donor = path.join(root, 'releases', 'old');
      mkdirSync(path.join(donor, '.next/cache'), { recursive: true });
      writeFileSync(path.join(donor, '.next/cache/data'), 'cache');
      const fresh = path.join(root, 'releases', 'new');
      mkdirSync(fresh, { recursive: true });
      // The new commit holds a file named .next: the copy cannot make .next/cache there.
      writeFileSync(path.join(fresh, '.next'), 'a file');
      const failed = await carryBuildCache(config, state, 'a', 'new', fresh);
      expect(failed).toMatchObject({ failed: true, reason: expect.stringMatching(/^copying \.next\/cache from release old failed \(/) });
      rmSync(path.join(fresh, '.next'));
      const carried = await carryBuildCache(config, state, 'a', 'new', fresh);
      expect(carried).toEqual({ from: { commit: 'old', why: 'slot a last ran it' }, copied: ['.next/cache'] });
      expect(readFileSync(path.join(fresh, '.next/cache/data'), 'utf8')).toBe('cache');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the install cache expects what the donor\'s npm manifest lists, else the app\'s dependencies', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-installcheck-unit-'));
    try {
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ dependencies: { ms: '2.1.3', left: '1.0.0' } }));
      mkdirSync(path.join(dir, 'node_modules/ms'), { recursive: true });
      writeFileSync(path.join(dir, 'node_modules/ms/package.json'), '{}');
      expect(expectedPackages(dir, dir)).toEqual(['node_modules/ms', 'node_modules/left']);
      expect(missingPackages(dir, expectedPackages(dir, dir))).toEqual(['node_modules/left']);
      writeFileSync(path.join(dir, 'node_modules/.package-lock.json'), JSON.stringify({ packages: { 'node_modules/ms': {}, 'node_modules/@scope/x': {} } }));
      expect(missingPackages(dir, expectedPackages(dir, dir))).toEqual(['node_modules/@scope/x']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The build step against a real host (real nginx as root, real git): a build whose cache folder
 * `.cache/build` records every version built with it, and refuses a cache holding `corrupt`.
 */
describe('build cache: a deploy builds from the last release\'s cache, never changes it, and survives a bad one', () => {
  let host: TestHost;
  const commits: Record<string, string> = {};
  const release = (commit: string) => path.join(host.deployRoot, 'releases', commit);
  const builtWith = (commit: string) => readFileSync(path.join(release(commit), '.cache/build/built'), 'utf8').trim().split('\n');
  const deploy = async (version: string, args: string[] = []) => {
    commits[version] ??= host.example.commit(version);
    const result = await host.run(['deploy', ...args]);
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json.version).toBe(version);
    return result;
  };

  beforeAll(async () => {
    host = await createTestHost({
      env: {
        BUILD_CACHE_PATHS: '.cache/build',
        BUILD_CMD: "mkdir -p .cache/build && if [ -e .cache/build/corrupt ]; then echo 'cache rejected: corrupt' >&2; exit 1; fi && cat VERSION >> .cache/build/built && node build.js",
        START_CMD: 'node server.js',
      },
    });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('the first build is cold and says why', async () => {
    const result = await deploy('v1');
    expect(result.stdout).toMatch(/^ok build .*cold: no kept release has \.cache\/build/m);
    expect(builtWith(commits.v1)).toEqual(['v1']);
  }, 120_000);

  it('the next build starts from it (a copy, not a link), and the first release is unchanged byte for byte', async () => {
    const before = hashTree(release(commits.v1));
    const result = await deploy('v2');
    expect(result.stdout).toMatch(new RegExp(`^ok build .*warm from release ${short(commits.v1)} \\(the newest kept release with a cache: \\.cache/build\\)`, 'm'));
    expect(builtWith(commits.v2)).toEqual(['v1', 'v2']);
    expect(hashTree(release(commits.v1))).toBe(before);
    const copy = path.join(release(commits.v2), '.cache/build');
    expect(lstatSync(copy).isDirectory()).toBe(true);
    expect(statSync(path.join(copy, 'built')).ino).not.toBe(statSync(path.join(release(commits.v1), '.cache/build/built')).ino);
  }, 120_000);

  it('prefers the release the idle slot last ran', async () => {
    const result = await deploy('v3');
    expect(result.stdout).toMatch(new RegExp(`^ok build .*warm from release ${short(commits.v1)} \\(slot a last ran it`, 'm'));
    expect(builtWith(commits.v3)).toEqual(['v1', 'v3']);
  }, 120_000);

  it('a cache the build rejects: the build runs again cold, the deploy succeeds and the line says so', async () => {
    writeFileSync(path.join(release(commits.v2), '.cache/build/corrupt'), 'x');
    const result = await deploy('v4');
    expect(result.stderr + result.stdout).toMatch(new RegExp(`the build with the cache of release ${short(commits.v2)} failed .*running it once more without the cache`));
    expect(result.stdout).toMatch(new RegExp(`^ok build .*cold: the warm build from release ${short(commits.v2)}'s cache failed`, 'm'));
    expect(builtWith(commits.v4)).toEqual(['v4']);
  }, 120_000);

  it('--cold builds without the cache, and --dry-run says so', async () => {
    commits.v5 = host.example.commit('v5');
    // By its SHA: the mirror has not fetched it yet, so the plan builds it.
    const plan = await host.run(['deploy', commits.v5, '--cold', '--dry-run']);
    expect(plan.exitCode, plan.output).toBe(0);
    expect(plan.stdout).toMatch(/build +\/bin\/sh -c .*, cold: --cold builds without the cache/);
    const warmPlan = await host.run(['deploy', commits.v5, '--dry-run']);
    expect(warmPlan.stdout).toMatch(/build +\/bin\/sh -c .*, warm when a kept release has \.cache\/build/);
    const result = await deploy('v5', ['--cold']);
    expect(result.stdout).toMatch(/^ok build .*cold: --cold builds without the cache/m);
    expect(builtWith(commits.v5)).toEqual(['v5']);
  }, 120_000);

  it('an empty BUILD_CACHE_PATHS turns it off', async () => {
    host.writeEnv({ BUILD_CACHE_PATHS: '' });
    const result = await deploy('v6');
    expect(result.stdout).toMatch(/^ok build .*cold: BUILD_CACHE_PATHS is empty/m);
    expect(builtWith(commits.v6)).toEqual(['v6']);
  }, 120_000);
});

/** #23 item 6: a damaged install-cache donor (a package deleted by hand) must not be copied into every release with its lockfile. */
describe('install cache: the copy is checked against the donor\'s npm manifest', () => {
  let host: TestHost;
  const commits: Record<string, string> = {};
  const release = (commit: string) => path.join(host.deployRoot, 'releases', commit);
  const withMs = (dir: string) => {
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(path.join(MS_APP, file), path.join(dir, file));
  };
  const deploy = async (version: string, args: string[] = []) => {
    commits[version] = host.example.commit(version, withMs);
    const result = await host.run(['deploy', ...args]);
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json.version).toBe(version);
    return result;
  };

  beforeAll(async () => {
    // The app cannot boot without ms: the damage a copied tree would carry shows as a failed start.
    host = await createTestHost({ env: { START_CMD: 'node --require ms server.js', BUILD_CMD: 'node build.js' } });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('a donor whose node_modules/ms was deleted: the next deploy runs INSTALL_CMD, says so, and boots', async () => {
    const first = await deploy('m1');
    expect(first.stdout).toMatch(/^ok install +npm ci/m);
    rmSync(path.join(release(commits.m1), 'node_modules/ms'), { recursive: true });
    const result = await deploy('m2');
    expect(result.stdout).toMatch(new RegExp(`^ok install +npm ci .*\\(the node_modules copied from release ${short(commits.m1)} lacks 1 of the 1 packages its manifest lists \\(ms\\)\\)`, 'm'));
    expect(result.stderr + result.stdout).toMatch(/install cache: .* lacks 1 of the 1 packages .*; running npm ci/);
    expect(existsSync(path.join(release(commits.m2), 'node_modules/ms/package.json'))).toBe(true);
  }, 180_000);

  it('the next deploy with that lockfile copies from the newest, sound release, checked', async () => {
    const result = await deploy('m3');
    expect(result.stdout).toMatch(new RegExp(`^ok install +same lockfile as release ${short(commits.m2)}: its node_modules copied .*all 1 packages checked present; npm ci .* not run`, 'm'));
  }, 120_000);

  it('--rebuild bypasses the install cache', async () => {
    const result = await host.run(['deploy', commits.m2, '--rebuild']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/^ok install +npm ci .*\(--rebuild does not use the install cache\)/m);
    expect((await host.get('/')).json.version).toBe('m2');
  }, 180_000);
});
