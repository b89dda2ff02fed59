import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { APP_WITHOUT_NPM, createTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { startPostgres, type TestPostgres } from '../../harness/postgres.ts';
import { waitFor } from '../../harness/wait.ts';
import { parseEvents } from '../../lib/cli/events.ts';

/**
 * RELEASE_CMD against a real PostgreSQL: psql applies the migration file of the release being
 * deployed, once per commit, before the new slot takes traffic; a bad migration switches nothing.
 * Each run of the migration adds a row to release_runs, so the rows count how often it ran.
 */
const MIGRATE = 'psql -X -v ON_ERROR_STOP=1 --single-transaction -v commit=$SWITCHYARD_COMMIT -f migrations/migrate.sql';

/** The migration of a release: its own schema change, then a row saying it ran for that commit. */
function migration(schema: string): (repo: string) => void {
  return (repo) => {
    mkdirSync(path.join(repo, 'migrations'), { recursive: true });
    const runs = "CREATE TABLE IF NOT EXISTS release_runs (id serial PRIMARY KEY, commit text NOT NULL);\nINSERT INTO release_runs (commit) VALUES (:'commit');\n";
    writeFileSync(path.join(repo, 'migrations', 'migrate.sql'), `${schema}\n${runs}`);
  };
}

describe('RELEASE_CMD runs once per commit, before the new slot takes traffic', () => {
  let host: TestHost;
  let pg: TestPostgres;
  let pgDir: string;
  const commits: Record<string, string> = {};

  beforeAll(async () => {
    pgDir = mkdtempSync(path.join(os.tmpdir(), 'pg-'));
    // The server runs as the postgres user, which must pass through to its folder.
    chmodSync(pgDir, 0o755);
    pg = await startPostgres(path.join(pgDir, 'server'));
    host = await createTestHost({ env: { ...APP_WITHOUT_NPM, RELEASE_CMD: MIGRATE } });
    // The operator's way to give the app (and so RELEASE_CMD) its database.
    const set = await host.run(['env', 'set', ...Object.entries(pg.env).map(([key, value]) => `${key}=${value}`)]);
    expect(set.exitCode, set.output).toBe(0);
    commits.v2 = host.example.commit('v2', migration('CREATE TABLE IF NOT EXISTS widgets (id serial PRIMARY KEY, name text NOT NULL);'));
  }, 120_000);

  afterAll(async () => {
    await host?.cleanUp();
    await pg?.stop();
    rmSync(pgDir, { recursive: true, force: true });
  }, 60_000);

  const runsOf = async (commit: string) => Number(await pg.query(`SELECT count(*) FROM release_runs WHERE commit = '${commit}'`));
  const served = async () => (await host.get('/')).json?.version;

  it('a first deploy migrates before the slot starts, and records the commit', async () => {
    const deployed = await host.run(['deploy', '--json']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const steps = parseEvents(deployed.stdout).flatMap((event) => (event.event === 'step' ? [event.step] : []));
    expect(steps).toEqual(['lock', 'fetch', 'checkout', 'install', 'build', 'release', 'start', 'health', 'switch', 'record']);
    expect(await pg.query('SELECT commit FROM release_runs'), deployed.output).toBe(commits.v2);
    expect(await runsOf(commits.v2)).toBe(1);
    expect(await pg.query("SELECT to_regclass('widgets') IS NOT NULL")).toBe('t');
    const ranAt = host.state().releaseCmdRuns[commits.v2].at;
    const releases = await host.run(['releases', '--json']);
    expect(JSON.parse(releases.stdout).find((release: { commit: string }) => release.commit === commits.v2).releaseCmdAt).toBe(ranAt);
    expect(await served()).toBe('v2');
  }, 120_000);

  it('a redeploy, a rollback, a kept or rebuilt release do not run it again; --release-cmd does', async () => {
    commits.v3 = host.example.commit('v3', migration('ALTER TABLE widgets ADD COLUMN IF NOT EXISTS color text;'));
    const v3 = await host.run(['deploy']);
    expect(v3.exitCode, v3.output).toBe(0);
    expect(await runsOf(commits.v3)).toBe(1);
    expect(await pg.query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'widgets' AND column_name = 'color'")).toBe('1');

    const back = await host.run(['rollback']);
    expect(back.exitCode, back.output).toBe(0);
    expect(await served()).toBe('v2');

    const plan = await host.run(['deploy', commits.v3, '--dry-run']);
    expect(plan.output).toMatch(/release\b.*skipped: RELEASE_CMD already ran for \w+ at /);
    const kept = await host.run(['deploy', commits.v3]);
    expect(kept.exitCode, kept.output).toBe(0);
    expect(kept.output).toContain('skipped: RELEASE_CMD already ran');

    // v2's slot was stopped after the last deploy: its release may be built again.
    const rebuilt = await host.run(['deploy', commits.v2, '--rebuild']);
    expect(rebuilt.exitCode, rebuilt.output).toBe(0);
    expect(await served()).toBe('v2');
    expect([await runsOf(commits.v2), await runsOf(commits.v3)]).toEqual([1, 1]);

    const forced = await host.run(['deploy', commits.v3, '--release-cmd']);
    expect(forced.exitCode, forced.output).toBe(0);
    expect([await runsOf(commits.v2), await runsOf(commits.v3)]).toEqual([1, 2]);
    expect(await served()).toBe('v3');
  }, 300_000);

  it('a failing migration stops the deploy with nothing switched, shows psql\'s error and is not recorded', async () => {
    const before = host.state();
    commits.v4 = host.example.commit('v4', migration('CREATE TABLE half_done (id int);\nSELEC 1;'));
    const failed = await host.run(['deploy']);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.output).toMatch(/release command failed \(exit 3\): nothing was switched/);
    expect(failed.output).toContain('syntax error at or near "SELEC"');
    expect(failed.output).toMatch(/slot b \(\w+\) is still live/);
    // The live slot serves on, through nginx; the new slot never started; psql's transaction left nothing.
    for (let request = 0; request < 10; request++) expect(await served()).toBe('v3');
    const after = host.state();
    expect(after.live).toBe(before.live);
    expect(after.slots.a.pid).toBeNull();
    expect(after.releaseCmdRuns[commits.v4]).toBeUndefined();
    expect(await pg.query("SELECT to_regclass('half_done') IS NULL")).toBe('t');
    expect(await runsOf(commits.v4)).toBe(0);

    // Not recorded: fixed in place (the same commit cannot change, so a new one), the next deploy migrates.
    commits.v5 = host.example.commit('v5', migration('CREATE TABLE IF NOT EXISTS half_done (id int);'));
    const fixed = await host.run(['deploy']);
    expect(fixed.exitCode, fixed.output).toBe(0);
    expect(await runsOf(commits.v5)).toBe(1);
    expect(await served()).toBe('v5');
  }, 300_000);

  it('RELEASE_TIMEOUT stops a migration that runs too long; --release-cmd with --no-release-cmd is a usage error', async () => {
    const contradiction = await host.run(['deploy', '--release-cmd', '--no-release-cmd']);
    expect(contradiction.exitCode).toBe(2);
    expect(contradiction.output).toContain('--release-cmd and --no-release-cmd contradict each other');
    const live = host.state().live;
    const stuck = await host.run(['deploy', '--release-cmd'], { RELEASE_CMD: 'echo waiting for a lock; exec sleep 600', RELEASE_TIMEOUT: '1s' });
    expect(stuck.exitCode).not.toBe(0);
    expect(stuck.output).toMatch(/release command timed out after RELEASE_TIMEOUT \([\d.]+s\) and was stopped: nothing was switched/);
    expect(stuck.output).toContain('waiting for a lock');
    expect(host.state().live).toBe(live);
    expect(await served()).toBe('v5');
  }, 120_000);

  it('a deploy killed while RELEASE_CMD runs switches nothing and records nothing: the next deploy runs it again', async () => {
    await pg.query('CREATE TABLE hold (x int); INSERT INTO hold VALUES (1)');
    commits.v6 = host.example.commit('v6', migration('SELECT pg_sleep(600) FROM hold;'));
    const sleeping = "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' AND pid <> pg_backend_pid()";
    const deploying = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' }, reject: false, all: true });
    await waitFor('the migration to be running in PostgreSQL', async () => (await pg.query(sleeping)) !== '', { timeoutMs: 90_000, output: () => String(deploying.all ?? '') });
    deploying.kill('SIGKILL');
    await deploying;
    for (let request = 0; request < 10; request++) expect(await served()).toBe('v5');
    expect(host.state().releaseCmdRuns[commits.v6]).toBeUndefined();
    // The migration outlived the deploy (its own process group): ended here, as an operator would, before the next deploy.
    await pg.query(`SELECT pg_terminate_backend(pid) FROM (${sleeping}) AS running`);
    await pg.query('DELETE FROM hold');
    const next = await host.run(['deploy']);
    expect(next.exitCode, next.output).toBe(0);
    expect(await runsOf(commits.v6)).toBe(1);
    expect(await served()).toBe('v6');
  }, 300_000);
});
