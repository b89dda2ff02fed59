/**
 * The canary part of `npm run bench:canary` (bench/canary.ts runs it after the bake window's cases):
 * the percentage canary under load, on a real nginx and real slots, with
 * users (own User-Agent and cookie jar each, harness/users.ts) at about 500 req/s and 5 req/s. Three
 * releases under CANARY=5%: one failing 100 % of its non-health requests, one failing 10 %, a good
 * one. For each: how the canary ended, the time from `deploy` to that end, the share of all requests
 * that failed because of the bad release, and the failures of the mechanism itself (a reset, a 502:
 * anything but the release's own 500). Returns its section of bench/results/canary.md. Bounded: each case stops at
 * its end or after 3 minutes.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../harness/host.ts';
import { startUsers, type UserAnswer } from '../harness/users.ts';
import { renderText, type Section } from './report/table.ts';

const canaryApp = fileURLToPath(new URL('../test/fixtures/apps/no-handler.js', import.meta.url));
const useCanaryApp = (dir: string) => copyFileSync(canaryApp, path.join(dir, 'server.js'));
const CASE_BOUND_MS = 180_000;

type Case = { name: string; tag: string; users: number; pauseMs: number; env: Record<string, string> };
type Row = {
  name: string; rate: number; outcome: string; seconds: number; requests: number
  releaseFailed: number; mechanismFailed: number
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runCase(host: TestHost, version: string, bench: Case): Promise<Row> {
  host.writeEnv({ ...APP_WITHOUT_NPM, BAKE_TIME: '0', CANARY: '5%', ...bench.env });
  const load = startUsers({ port: host.nginx.port, users: bench.users, maxDurationMs: CASE_BOUND_MS + 30_000, pauseMs: bench.pauseMs });
  await sleep(3000);
  host.example.commit(version, useCanaryApp);
  const started = Date.now();
  const deployed = await host.run(['deploy']);
  if (deployed.exitCode !== 0) throw new Error(`deploy of ${version} failed:\n${deployed.output}`);
  while (host.state().canary && Date.now() - started < CASE_BOUND_MS) await sleep(200);
  const ended = Date.now();
  const canary = host.state().canary;
  await sleep(1000);
  const answers = (await load.stop()).filter((answer) => answer.at >= started && answer.at <= ended);
  const last = host.state().history.at(-1);
  const outcome = canary ? 'still running at the bound' : last.outcome === 'success' ? 'promoted' : last.automatic ? 'rolled back by itself' : `ended: ${last.outcome}`;
  const release = (answer: UserAnswer) => answer.status === 500 && answer.version === version;
  return {
    name: bench.name,
    rate: answers.length / ((ended - started) / 1000),
    outcome,
    seconds: (ended - started) / 1000,
    requests: answers.length,
    releaseFailed: answers.filter(release).length,
    mechanismFailed: answers.filter((answer) => answer.status !== 200 && !release(answer)).length,
  };
}

const CASES: Case[] = [
  { name: 'fails 100 %, ~500 req/s', tag: '-fail100', users: 50, pauseMs: 80, env: {} },
  { name: 'fails 10 %, ~500 req/s', tag: '-fail10', users: 50, pauseMs: 80, env: {} },
  { name: 'good, ~500 req/s', tag: '', users: 50, pauseMs: 80, env: {} },
  // 5 % of 5 req/s is one request every 4 s: too few to judge, so CANARY_INCONCLUSIVE decides.
  { name: 'good, ~5 req/s', tag: '', users: 5, pauseMs: 1000, env: { CANARY_INCONCLUSIVE: 'promote', CANARY_INCONCLUSIVE_WINDOWS: '3' } },
];

export async function measureCanaryShare(): Promise<string> {
  const host = await createTestHost({ env: { ...APP_WITHOUT_NPM, BAKE_TIME: '0' } });
  const rows: Row[] = [];
  try {
    host.example.commit('v1', useCanaryApp);
    const first = await host.run(['deploy']);
    if (first.exitCode !== 0) throw new Error(`first deploy failed:\n${first.output}`);
    let n = 1;
    for (const bench of CASES) {
      const row = await runCase(host, `v${++n}${bench.tag}`, bench);
      rows.push(row);
      console.log(`${row.name}: ${row.outcome} after ${row.seconds.toFixed(1)} s`);
    }
  } finally {
    await host.cleanUp();
  }
  const percent = (part: number, whole: number) => `${whole ? ((100 * part) / whole).toFixed(2) : '0.00'} %`;
  const section: Section = {
    title: 'Canary: CANARY=5%, CANARY_STEPS=5% 25% 50%, CANARY_INTERVAL 10s, CANARY_FAILED_WINDOWS 2 (defaults)',
    header: ['release', 'req/s', 'outcome', 'deploy → end', 'requests', 'failed by the release', 'failed by the mechanism'],
    rows: rows.map((row) => [
      row.name,
      row.rate.toFixed(0),
      row.outcome,
      `${row.seconds.toFixed(1)} s`,
      String(row.requests),
      `${row.releaseFailed} (${percent(row.releaseFailed, row.requests)})`,
      String(row.mechanismFailed),
    ]),
    note: 'requests from the deploy command to the end of the canary; the 5 req/s case uses CANARY_INCONCLUSIVE=promote, CANARY_INCONCLUSIVE_WINDOWS=3',
  };
  const text = renderText([section]);
  console.log(text);
  return `\n## The percentage canary (bench/canary-share.ts)\n\n\`\`\`${text}\n\`\`\`\n`;
}
