/**
 * `npm run bench:canary [-- --out DIR]`: the bake window's judgement of nginx's figures, measured on
 * the harness host (a real nginx, a real git repo, `./deploy.ts deploy` as an operator runs it) with
 * the default judging settings (CANARY_INTERVAL 10s, 1 %, 2 failed windows). A release failing 100 %
 * and one failing 10 % of non-health requests (test/fixtures/apps/no-handler.js with FAIL_SHARE; /health answers 200)
 * under a closed-loop load: the requests failed because of the bad release, the time from the
 * deploy's return to the automatic rollback, and the requests failed after it (the mechanism's own:
 * must be 0). A good release at about 5 and 500 requests a second: no false abort. Writes
 * DIR/canary.md, followed by the percentage canary's cases (bench/canary-share.ts). Exit code 1 when a bad release was not rolled back, a good one was, or the rollback
 * itself failed a request.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestHost, type TestHost } from '../harness/host.ts';
import { startLoad, type LoadOptions } from '../harness/load.ts';
import { waitFor } from '../harness/wait.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { measureCanaryShare } from './canary-share.ts';

const ERROR_SHARE_APP = fileURLToPath(new URL('../test/fixtures/apps/no-handler.js', import.meta.url));
const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const release = (failShare: number) => (dir: string) => {
  copyFileSync(ERROR_SHARE_APP, path.join(dir, 'server.js'));
  writeFileSync(path.join(dir, 'FAIL_SHARE'), `${failShare}\n`);
};

type Case = { name: string; failShare: number; load: Omit<LoadOptions, 'port'>; bakeTime: string };
type Outcome = {
  name: string;
  requests: number;
  perSecond: number;
  failed: number;
  rolledBack: boolean;
  toRollbackMs: number | null;
  failedAfter: number;
  ok: boolean;
};

const MIX = { fast: 0.8, post: 0.2 };
const CASES: Case[] = [
  { name: 'bad release: 100 % of / fail', failShare: 1, load: { connections: 8, mix: MIX }, bakeTime: '120s' },
  { name: 'bad release: 10 % fail', failShare: 0.1, load: { connections: 8, mix: MIX }, bakeTime: '120s' },
  { name: 'good release at ~5 req/s', failShare: 0, load: { connections: 1, pauseMs: 170, mix: MIX }, bakeTime: '35s' },
  { name: 'good release at ~500 req/s', failShare: 0, load: { connections: 20, pauseMs: 18, mix: MIX }, bakeTime: '35s' },
];

async function measureCase(host: TestHost, item: Case, index: number): Promise<Outcome> {
  const automatic = () => host.state().history.filter((entry: any) => entry.automatic).length;
  const before = automatic();
  const load = startLoad({ port: host.nginx.port, maxDurationMs: 180_000, ...item.load });
  const started = Date.now();
  host.example.commit(`v${index + 2}`, release(item.failShare));
  const deployed = await host.run(['deploy'], { BAKE_TIME: item.bakeTime });
  const returned = Date.now();
  if (deployed.exitCode !== 0) throw new Error(`deploy failed: ${deployed.output.slice(-1500)}`);
  await waitFor('the window to end', () => host.state().bake === null, { timeoutMs: 180_000 });
  const records = await load.stop();
  const ended = Date.now();
  const rollback = automatic() > before ? host.state().history.at(-1) : undefined;
  const rolledBackAt = rollback ? Date.parse(rollback.at) + rollback.durationMs : null;
  const result: Outcome = {
    name: item.name,
    requests: records.length,
    perSecond: Math.round(records.length / ((ended - started) / 1000)),
    failed: records.filter((record) => record.error !== null).length,
    rolledBack: rollback !== undefined,
    toRollbackMs: rolledBackAt === null ? null : rolledBackAt - returned,
    failedAfter: rolledBackAt === null ? 0 : records.filter((record) => record.startedAt > rolledBackAt && record.error !== null).length,
    ok: false,
  };
  result.ok = (item.failShare > 0) === result.rolledBack && result.failedAfter === 0 && (item.failShare > 0 || result.failed === 0);
  return result;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(PROJECT_DIR, 'bench', 'results') } } });
  const host = await createTestHost();
  const outcomes: Outcome[] = [];
  try {
    host.writeEnv({});
    host.example.commit('v1', release(0));
    const first = await host.run(['deploy']);
    if (first.exitCode !== 0) throw new Error(`deploy of v1 failed: ${first.output.slice(-1500)}`);
    for (const [index, item] of CASES.entries()) {
      const outcome = await measureCase(host, item, index);
      outcomes.push(outcome);
      console.log(JSON.stringify(outcome));
    }
  } finally {
    await host.cleanUp();
  }
  const rows = outcomes.map((o) =>
    `| ${o.name} | ${o.requests.toLocaleString('en-US')} (${o.perSecond}/s) | ${o.failed.toLocaleString('en-US')} (${((100 * o.failed) / Math.max(1, o.requests)).toFixed(1)} %) | ${o.rolledBack ? 'yes' : 'no'} | ${o.toRollbackMs === null ? '-' : `${(o.toRollbackMs / 1000).toFixed(1)} s`} | ${o.failedAfter} | ${o.ok ? 'as expected' : 'NOT as expected'} |`,
  );
  const text = [
    '# The bake window\'s judgement (npm run bench:canary)',
    '',
    `${describeHost(await hostInfo())}; defaults: CANARY_INTERVAL 10s, CANARY_MAX_ERROR_RATE 1%, CANARY_FAILED_WINDOWS 2, CANARY_MIN_REQUESTS 20.`,
    'Requests are counted from the deploy\'s start to the end of the bake window (or of the rollback\'s drain).',
    '',
    '| case | requests | failed | rolled back by itself | deploy returned → rollback | failed after the rollback |  |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  console.log(text);
  // The percentage canary's own cases (CANARY=5%: share, steps, promotion, rollback), on a host of their own.
  const share = await measureCanaryShare();
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(path.join(values.out!, 'canary.md'), text + share);
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

process.exitCode = await main();
