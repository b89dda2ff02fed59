import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { loadAnswered, waitFor } from '../../harness/wait.ts';
import { isAlive, signalProcess } from '../../lib/host/process.ts';
import { processesIn } from '../support/process-leaks.ts';

/**
 * The done-when of issue #32: random SIGKILLs (at least 50) of deploy, rollback, restart and the bake
 * watcher, under load, need no human and fail no request. Each round starts a command (a deploy of a
 * kept release, a rollback, a restart; a 2 s bake window so watchers come and go) and SIGKILLs it at a
 * random instant, or kills the current watcher; the command after each kill must put the host right by
 * itself. Random instants, a seed printed on failure: the fixed kill points are in faults-*.test.ts.
 */
const KILLS = 50;
/** The loop's bound: it stops here even short of KILLS (and then fails). */
const LOOP_MS = 150_000;
/** A command's kill falls at most this share of an uncontested restart's time after its start: some end by themselves, and start bake windows. */
const DELAY_SHARE = 2;

/** mulberry32: a small seeded generator, so a failing run can be named and repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the kill loop', () => {
  let host: TestHost;
  const commits: string[] = [];
  let commandMs = 0;

  beforeAll(async () => {
    // node, not npm, starts the app: the rounds are shorter, so more kills fit in the loop's bound.
    host = await createDeployedTestHost({ env: APP_WITHOUT_NPM });
    commits.push(host.state().slots.a.commit);
    commits.push(host.example.commit('v2'));
    const second = await host.run(['deploy']);
    if (second.exitCode !== 0) throw new Error(`the second deploy failed:\n${second.output}`);
    const before = Date.now();
    const restart = await host.run(['restart']);
    if (restart.exitCode !== 0) throw new Error(`the first restart failed:\n${restart.output}`);
    commandMs = Date.now() - before;
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it(`${KILLS} random SIGKILLs of deploy, rollback, restart and the bake watcher under load: no human, no failed request`, async () => {
    const seed = Number(process.env.KILL_LOOP_SEED ?? Date.now() % 2 ** 31);
    const random = seeded(seed);
    const log: string[] = [`seed ${seed} (KILL_LOOP_SEED to repeat)`];
    const killed: Record<string, number> = {};
    const unkilled: string[] = [];
    const load = startLoad({ port: host.nginx.port, connections: 8, maxDurationMs: LOOP_MS + 60_000 });
    const started = Date.now();
    let kills = 0;
    let rounds = 0;
    while (kills < KILLS && Date.now() - started < LOOP_MS) {
      rounds++;
      const watcher = host.state().bake?.watcherPid;
      if (watcher && isAlive(watcher) && random() < 0.5) {
        signalProcess(watcher, 'SIGKILL');
        await waitFor('the killed watcher to be gone', () => !isAlive(watcher), { timeoutMs: 10_000 });
        kills++;
        killed['bake-watch'] = (killed['bake-watch'] ?? 0) + 1;
        log.push(`round ${rounds}: killed the bake watcher ${watcher}`);
        continue;
      }
      const roll = random();
      const state = host.state();
      // A rollback names the release: a bare one refuses a release rolled back from before (by design, not a repair).
      const other = commits.find((commit) => commit !== (state.live && state.slots[state.live].commit)) ?? commits[0];
      const args = roll < 0.4 ? ['deploy', commits[Math.floor(random() * commits.length)]] : roll < 0.7 ? ['rollback', other] : ['restart'];
      const delay = Math.floor(random() * DELAY_SHARE * commandMs);
      const child = execa(DEPLOY_TS, args, { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', BAKE_TIME: '2s' }, reject: false, all: true, timeout: 90_000 });
      let ended = false;
      void child.finally(() => (ended = true));
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (!ended && child.kill('SIGKILL')) {
        await child;
        // The phase the state's journal names now (this command's, or the one it was still recovering from).
        const phase = host.state().journal?.phase ?? 'no-journal';
        kills++;
        killed[`${args[0]}@${phase}`] = (killed[`${args[0]}@${phase}`] ?? 0) + 1;
        log.push(`round ${rounds}: ${args.join(' ')} killed after ${delay} ms in its ${phase} phase`);
        continue;
      }
      const result = await child;
      log.push(`round ${rounds}: ${args.join(' ')} ended by itself (exit ${result.exitCode}) before ${delay} ms`);
      // 75: the lock is held (a watcher ending its window): a retry, not a repair.
      if (result.exitCode !== 0 && result.exitCode !== 75) unkilled.push(`round ${rounds}: ${args.join(' ')} exit ${result.exitCode}:\n${result.all}`);
    }
    const loopMs = Date.now() - started;

    // The command after the last kill needs no human either.
    const final = await host.run(['deploy']);
    // The load goes on after the command: 30 requests begun since it returned have ended.
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    const report = JSON.parse((await host.run(['status', '--json'])).stdout);
    const summary = `${log.join('\n')}\n${kills} kills in ${rounds} rounds, ${loopMs} ms (a restart alone: ${commandMs} ms): ${JSON.stringify(killed)}; ${records.length} requests`;
    console.log(summary.split('\n').slice(-1)[0]);
    expect(kills, summary).toBeGreaterThanOrEqual(KILLS);
    expect(unkilled, summary).toEqual([]);
    expect(final.exitCode, `${final.output}\n${summary}`).toBe(0);
    expect(failures(records), `${summarizeFailures(records)}\n${summary}`).toEqual([]);
    expect(report.disagreements, summary).toEqual([]);
    expect(report.slots[report.live].healthy).toBe(true);
    // Nothing left unowned: every supervisor of this host is a slot's recorded one.
    const supervisors = processesIn(host.dir).filter((each) => each.command.includes('supervisor.mjs')).map((each) => each.pid);
    expect(supervisors.sort(), summary).toEqual([report.slots.a.pid, report.slots.b.pid].filter(Boolean).sort());
  }, LOOP_MS + 150_000);
});
