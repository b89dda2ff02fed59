import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';

/** Releases kept by commit under DEPLOY_ROOT/releases; slots are symlinks to them. */
describe('releases: rollback to any good release, reuse, install cache, prune, restart', () => {
  let host: TestHost;
  const commits: Record<string, string> = {};
  const outputs: Record<string, string> = {};
  const releases = () => readdirSync(path.join(host.deployRoot, 'releases')).sort();
  const served = async () => (await host.get('/')).json.version;

  beforeAll(async () => {
    host = await createDeployedTestHost({ env: APP_WITHOUT_NPM });
    commits.v1 = host.example.head();
    for (const version of ['v2', 'v3']) {
      commits[version] = host.example.commit(version);
      const result = await host.run(['deploy']);
      expect(result.exitCode, result.output).toBe(0);
      outputs[version] = result.stdout;
    }
  }, 180_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('keeps one release per commit, the slots point at them, and `releases` says which is which', async () => {
    expect(releases()).toEqual([commits.v1, commits.v2, commits.v3].sort());
    const live = host.state().live;
    expect(readlinkSync(path.join(host.deployRoot, 'slots', live))).toBe(`../releases/${commits.v3}`);
    const listed = JSON.parse((await host.run(['releases', '--json'])).stdout);
    expect(listed.map((release: any) => release.commit)).toEqual([commits.v3, commits.v2, commits.v1]);
    expect(listed[0]).toMatchObject({ live: true, complete: true, slots: [live] });
    expect(listed[1]).toMatchObject({ live: false, rollbackTarget: true });
    expect(listed[2].outcomes).toEqual(['deploy success']);
    expect(listed[0].sizeBytes).toBeGreaterThan(0);
  });

  it('--rebuild of the live release is refused: it would change the files under a running app', async () => {
    const result = await host.run(['deploy', commits.v3, '--rebuild']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/release [0-9a-f]{7} runs on slot [ab]; rebuilding it would change the files under a running app/);
    expect(result.stderr).toMatch(/nothing was changed/);
    expect(await served()).toBe('v3');
  }, 120_000);

  it('a new release with the same lockfile as a kept one skips the install; --rebuild runs it (no install or build cache)', async () => {
    expect(outputs.v3).toMatch(/install +same lockfile as release [0-9a-f]{7}: .*not run/);
    const result = await host.run(['deploy', commits.v2, '--rebuild']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/install +npm ci .*\(--rebuild does not use the install cache\)/);
    expect(result.stdout).toMatch(/^ok build .*cold: --rebuild builds without the cache/m);
    expect(await served()).toBe('v2');
    const back = await host.run(['deploy', commits.v3]);
    expect(back.exitCode, back.output).toBe(0);
  }, 120_000);

  it('`rollback COMMIT` goes to any kept release under load, with no fetch, install or build', async () => {
    const load = startLoad({ port: host.nginx.port, connections: 16, maxDurationMs: 60_000 });
    await loadAnswered(load);
    const result = await host.run(['rollback', commits.v1.slice(0, 8)]);
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).not.toMatch(/^ok (fetch|checkout|install|build) /m);
    expect(result.stdout).toMatch(/rolled back to [0-9a-f]{7}/);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect(await served()).toBe('v1');
  }, 120_000);

  it('a plain rollback skips the release it was rolled back from and goes to the previous good one', async () => {
    // Live v1 (rolled back from v3): the previous good release is v2, never v3.
    const result = await host.run(['rollback']);
    expect(result.exitCode, result.output).toBe(0);
    expect(await served()).toBe('v2');
  }, 120_000);

  it('deploying a kept release reuses it: no checkout, install or build', async () => {
    const result = await host.run(['deploy', commits.v3]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/fetch +.*release [0-9a-f]{7} is kept .*no checkout, install or build/);
    expect(result.stdout).not.toMatch(/^ok (checkout|install|build) /m);
    expect(await served()).toBe('v3');
  }, 120_000);

  it('a failed deploy leaves every kept release, so rollback still works', async () => {
    host.example.commit('v4-broken', (dir) => writeFileSync(path.join(dir, 'build.js'), 'process.exit(3);\n'));
    const failed = await host.run(['deploy']);
    expect(failed.exitCode).not.toBe(0);
    const result = await host.run(['rollback']);
    expect(result.exitCode, result.output).toBe(0);
    expect(await served()).toBe('v2');
  }, 120_000);

  it('restart starts the live release on the other slot and moves traffic to it', async () => {
    const before = host.state();
    const pid = (await host.get('/')).json.pid;
    const result = await host.run(['restart']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/restarted [0-9a-f]{7} on slot [ab]/);
    expect(result.stdout).not.toMatch(/^ok (fetch|checkout|install|build) /m);
    const after = host.state();
    expect(after.live).not.toBe(before.live);
    expect(after.slots[after.live].commit).toBe(before.slots[before.live].commit);
    const now = (await host.get('/')).json;
    expect(now.version).toBe('v2');
    expect(now.pid).not.toBe(pid);
  }, 120_000);

  it('prunes to KEEP_RELEASES, never the live release, the other slot\'s or the last good one', async () => {
    commits.v5 = host.example.commit('v5', (dir) => writeFileSync(path.join(dir, 'build.js'), readFileSync(new URL('../../templates/example-app/build.js', import.meta.url), 'utf8')));
    const result = await host.run(['deploy'], { KEEP_RELEASES: '1' });
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/pruned \d+ old release\(s\)/);
    const state = host.state();
    const kept = releases();
    expect(kept).toContain(commits.v5);
    expect(kept).toContain(state.slots.a.commit);
    expect(kept).toContain(state.slots.b.commit);
    expect(kept.length).toBeLessThanOrEqual(3);
    for (const commit of Object.keys(state.releases)) expect(existsSync(path.join(host.deployRoot, 'releases', commit))).toBe(true);
    expect(await served()).toBe('v5');
  }, 120_000);

  it('`rollback COMMIT` of no kept release lists only the releases it could start, not one whose folder was removed by hand', async () => {
    const state = host.state();
    const idle = state.slots[state.live === 'a' ? 'b' : 'a'].commit;
    expect(idle && idle !== state.slots[state.live].commit).toBeTruthy();
    rmSync(path.join(host.deployRoot, 'releases', idle), { recursive: true, force: true });
    const result = await host.run(['rollback', 'deadbeef']);
    expect(result.exitCode, result.output).toBe(1);
    const kept = /is not a kept release \(kept: ([^)]*)\)/.exec(result.stderr)?.[1];
    expect(kept, result.stderr).toContain(state.slots[state.live].commit.slice(0, 7));
    expect(kept).not.toContain(idle.slice(0, 7));
    expect(await served()).toBe('v5');
  }, 60_000);
});
