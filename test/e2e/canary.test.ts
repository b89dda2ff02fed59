import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { failedAnswers, startUsers, versionsByUser, type UserAnswer } from '../../harness/users.ts';
import { waitFor } from '../../harness/wait.ts';
import { fixtureApp } from '../support/fixture-app.ts';
import { childPids } from '../../lib/host/proc.ts';
import { isAlive, signalProcess } from '../../lib/host/process.ts';
import { runningHolder } from '../../lib/record/lock.ts';

/**
 * The percentage canary on a real nginx (as root: workers as nobody), real slots, real users: each
 * user (own User-Agent, own cookie jar) asks GET / in a loop. A share of users reaches the new slot
 * and stays there; the share moves without a reload; promote and rollback move everyone; nginx's own
 * figures roll a bad release back by themselves; a killed watcher leaves the site serving and the
 * next command ends the canary.
 */
// A VERSION with "fail<N>" answers N % of the requests other than /health with a 500; /health always passes.
const useCanaryApp = fixtureApp({ graceful: true });
const USERS = 200;
// Windows that never conclude: the canary holds its share until the test moves it.
const HELD = { CANARY_MIN_REQUESTS: '999999', CANARY_INCONCLUSIVE: 'hold', CANARY_INTERVAL: '2s' };
// Windows a few seconds long that judge on a handful of requests.
const JUDGED = { CANARY_MIN_REQUESTS: '5', CANARY_MIN_ERRORS: '3', CANARY_FAILED_WINDOWS: '2', CANARY_INTERVAL: '3s' };

describe('the percentage canary', () => {
  let host: TestHost;
  let version = 1;
  const canaryLog = () => {
    const file = path.join(host.deployRoot, 'run', 'canary.log');
    return existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '(no canary.log)';
  };
  const workers = () => childPids(Number(readFileSync(host.nginx.pidFile, 'utf8').trim())).sort();
  const release = (tag = '') => host.example.commit(`v${++version}${tag}`, useCanaryApp);
  const users = () => startUsers({ port: host.nginx.port, users: USERS, maxDurationMs: 120_000, pauseMs: 20 });
  /** Every user has been answered at least `count` times since `since`. */
  const everyUserAnswered = (answers: UserAnswer[], since: number, count = 2) => {
    const per = new Map<number, number>();
    for (const answer of answers) if (answer.at >= since) per.set(answer.user, (per.get(answer.user) ?? 0) + 1);
    return per.size === USERS && [...per.values()].every((seen) => seen >= count);
  };
  const waitForAnswers = (answers: UserAnswer[], since: number, count = 2) =>
    waitFor(`every user answered ${count} times`, () => everyUserAnswered(answers, since, count), { timeoutMs: 30_000 });
  const expectNoFailure = (answers: UserAnswer[]) => expect(failedAnswers(answers).slice(0, 5), `${failedAnswers(answers).length} failed`).toEqual([]);

  beforeAll(async () => {
    host = await createTestHost({ env: { ...APP_WITHOUT_NPM, BAKE_TIME: '0' } });
    host.example.commit('v1', useCanaryApp);
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('sends ~10 % of users to the new slot, each user to one version; promote moves everyone with 0 failed requests and no reload', async () => {
    host.writeEnv({ ...APP_WITHOUT_NPM, BAKE_TIME: '0', ...HELD });
    const before = workers();
    const load = users();
    try {
      const tag = release();
      const deployed = await host.run(['deploy', '--canary', '10%']);
      expect(deployed.exitCode, deployed.output).toBe(0);
      expect(deployed.stdout).toMatch(/10% of users on slot b, the rest on slot a \(bucket 00 reaches slot b, bucket 99 slot a; no reload\)/);
      expect(host.state().canary).toMatchObject({ slot: 'b', live: 'a', share: 10 });
      const status = await host.run(['status']);
      expect(status.stdout, status.output).toMatch(/canary: [0-9a-f]{7} on slot b for 10% of users \(step 1 of 3: 10% → 25% → 50%\)/);

      const since = Date.now();
      await waitForAnswers(load.answers, since, 5);
      const seen = versionsByUser(load.answers, since);
      const onNew = [...seen.values()].filter((versions) => versions.has(`v${version}`)).length;
      // 200 users hashed into 100 buckets, 10 of them the canary's: 20 expected, sd ~4.
      expect(onNew, `users on the new release`).toBeGreaterThanOrEqual(8);
      expect(onNew).toBeLessThanOrEqual(36);
      expect([...seen.values()].filter((versions) => versions.size > 1), 'users who saw both versions').toEqual([]);

      const promoted = await host.run(['promote']);
      expect(promoted.exitCode, promoted.output).toBe(0);
      expect(promoted.stdout).toMatch(/promoted [0-9a-f]{7} on slot b to every user/);
      const after = Date.now();
      await waitForAnswers(load.answers, after, 2);
      const everyone = versionsByUser(load.answers, after + 100);
      expect([...everyone.values()].every((versions) => versions.size === 1 && versions.has(`v${version}`))).toBe(true);
      expect(host.state()).toMatchObject({ live: 'b', canary: null });
      expect(host.state().history.at(-1)).toMatchObject({ command: 'deploy', outcome: 'success', commit: tag });
      expect(existsSync(path.join(host.deployRoot, 'nginx', 'canary-b'))).toBe(false);
    } finally {
      expectNoFailure(await load.stop());
    }
    expect(workers(), 'nginx worker pids (a reload replaces them)').toEqual(before);
  }, 180_000);

  it('rollback during a canary puts every user back on the live slot at once, with 0 failed requests', async () => {
    host.writeEnv({ ...APP_WITHOUT_NPM, BAKE_TIME: '0', ...HELD });
    const load = users();
    try {
      release();
      const deployed = await host.run(['deploy', '--canary', '25%']);
      expect(deployed.exitCode, deployed.output).toBe(0);
      const since = Date.now();
      await waitForAnswers(load.answers, since, 3);
      expect([...versionsByUser(load.answers, since).values()].some((versions) => versions.has(`v${version}`))).toBe(true);
      const refused = await host.run(['deploy']);
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toMatch(/a canary of [0-9a-f]{7} runs on slot a \(25% of users, step 1 of 2\), so deploy was not started/);

      const rolledBack = await host.run(['rollback']);
      expect(rolledBack.exitCode, rolledBack.output).toBe(0);
      const moved = /every user on slot b \([0-9a-f]{7}\) (\d+)ms after the decision/.exec(rolledBack.stdout);
      expect(moved, rolledBack.stdout).not.toBeNull();
      const after = Date.now();
      await waitForAnswers(load.answers, after, 2);
      expect([...versionsByUser(load.answers, after).values()].every((versions) => !versions.has(`v${version}`))).toBe(true);
      expect(host.state()).toMatchObject({ live: 'b', canary: null });
      expect(host.state().slots.a.pid).toBeNull();
      expect(host.state().history.at(-1)).toMatchObject({ command: 'deploy', outcome: 'failed', reason: expect.stringMatching(/rolled back by .* during the canary/) });
    } finally {
      expectNoFailure(await load.stop());
    }
  }, 180_000);

  it('steps a good release through its shares without a reload and promotes it; rolls a bad one back by itself', async () => {
    host.writeEnv({ ...APP_WITHOUT_NPM, BAKE_TIME: '0', ...JUDGED, CANARY_STEPS: '10% 50%' });
    const before = workers();
    const load = users();
    try {
      const good = release();
      const deployed = await host.run(['deploy', '--canary', '10%']);
      expect(deployed.exitCode, deployed.output).toBe(0);
      await waitFor('the good release promoted', () => host.state().canary === null, { timeoutMs: 60_000, output: canaryLog });
      // The watcher records the end of the canary, then gives the deploy lock back: the next deploy waits for that.
      await waitFor('the watcher to give the deploy lock back', () => runningHolder(host.deployRoot) === undefined, { timeoutMs: 30_000, output: canaryLog });
      expect(host.state().history.at(-1), canaryLog()).toMatchObject({ command: 'deploy', outcome: 'success', commit: good });
      expect(canaryLog()).toMatch(/step 2 of 2: 50% of users on slot [ab] \(no reload\)/);
      expect(workers(), 'nginx worker pids').toEqual(before);
      expectNoFailure(load.answers);

      // The bad release: every request of its users fails, so only its share of users sees errors.
      const live = host.state().live;
      release('-fail100');
      const bad = await host.run(['deploy', '--canary', '5%']);
      expect(bad.exitCode, bad.output).toBe(0);
      const since = Date.now();
      await waitFor('the bad release rolled back', () => host.state().canary === null, { timeoutMs: 60_000, output: canaryLog });
      await waitFor('the watcher to give the deploy lock back', () => runningHolder(host.deployRoot) === undefined, { timeoutMs: 30_000, output: canaryLog });
      const last = host.state().history.at(-1);
      expect(last, canaryLog()).toMatchObject({ command: 'deploy', outcome: 'failed', automatic: true, reason: expect.stringMatching(/rolled back automatically: 2 windows in a row failed at 5% of users: slot [ab]: \d+ of \d+ requests 5xx/) });
      expect(host.state()).toMatchObject({ live, canary: null });
      const errored = new Set(failedAnswers(load.answers).filter((answer) => answer.at >= since).map((answer) => answer.user));
      // 5 of 100 buckets: 10 of 200 users expected.
      expect(errored.size, 'users who saw an error').toBeGreaterThan(0);
      expect(errored.size).toBeLessThanOrEqual(24);
    } finally {
      await load.stop();
    }
  }, 240_000);

  it('a killed watcher leaves both slots serving; the next command ends the canary and every user is on the live slot', async () => {
    host.writeEnv({ ...APP_WITHOUT_NPM, BAKE_TIME: '0', ...HELD });
    const load = users();
    try {
      release();
      const deployed = await host.run(['deploy', '--canary', '10%']);
      expect(deployed.exitCode, deployed.output).toBe(0);
      const watcher = host.state().canary.watcherPid as number;
      signalProcess(watcher, 'SIGKILL');
      await waitFor('the watcher gone', () => !isAlive(watcher), { timeoutMs: 10_000 });
      const since = Date.now();
      await waitForAnswers(load.answers, since, 2);
      const status = await host.run(['status']);
      expect(status.stdout).toMatch(/its watcher is not running: the next deploy, rollback or status --repair ends it/);
      const repaired = await host.run(['status', '--repair']);
      expect(repaired.exitCode, repaired.output).toBe(0);
      expect(repaired.output).toMatch(/lost its watcher .*: it ends now, everyone goes to slot a/);
      const after = Date.now();
      await waitForAnswers(load.answers, after, 2);
      expect([...versionsByUser(load.answers, after).values()].every((versions) => !versions.has(`v${version}`))).toBe(true);
      expect(host.state()).toMatchObject({ live: 'a', canary: null });
      expect(host.state().slots.b.pid).toBeNull();
      expect(existsSync(path.join(host.deployRoot, 'nginx', 'canary-b'))).toBe(false);
    } finally {
      expectNoFailure(await load.stop());
    }
  }, 180_000);

  it('a deploy killed right after writing the canary files leaves the live slot serving; the next deploy recovers', async () => {
    host.writeEnv({ ...APP_WITHOUT_NPM, BAKE_TIME: '0', ...HELD });
    // A light load: this one is about recovery, not share.
    const load = startUsers({ port: host.nginx.port, users: 10, maxDurationMs: 120_000, pauseMs: 50 });
    try {
      release();
      const killed = await host.run(['deploy', '--canary', '10%'], { SWITCHYARD_TEST_FAULT: 'kill@canary-files-written' });
      expect(killed.exitCode).not.toBe(0);
      expect(host.state().canary).toMatchObject({ slot: 'b', watcherPid: null });
      const during = await host.get('/');
      expect(during.status).toBe(200);
      const next = release();
      const deployed = await host.run(['deploy', '--no-canary']);
      expect(deployed.exitCode, deployed.output).toBe(0);
      expect(deployed.output).toMatch(/lost its watcher \(pid none\): it ends now/);
      expect(host.state()).toMatchObject({ live: 'b', canary: null });
      expect(host.state().slots.b.commit).toBe(next);
    } finally {
      expectNoFailure(await load.stop());
    }
  }, 180_000);
});
