/**
 * `npm run bench:instances [-- --seconds S --out DIR]`: what INSTANCES buys on this host. For N = 1
 * and N = 2, on the harness host (a real nginx, a real git repo, `./deploy.ts deploy` as an operator
 * runs it) with bench/fixtures/cpu-app.js (2 ms of CPU per GET, no SIGTERM handler): the steady
 * throughput through nginx over S seconds (32 keep-alive connections, GET / only), its latency, and
 * a deploy under that load (requests failed, and how many processes of the new slot answered).
 * Writes DIR/instances.md. Exit code 1 when a deploy failed or a request failed.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTestHost } from '../harness/host.ts';
import { failures, startLoad, type RequestRecord } from '../harness/load.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { renderMarkdown, renderText, type Section } from './report/table.ts';

const CPU_APP = fileURLToPath(new URL('./fixtures/cpu-app.js', import.meta.url));
const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));

type Result = {
  instances: number;
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  deployRequests: number;
  deployFailed: number;
  newPids: number;
  deployOk: boolean;
};

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
};

async function loadFor(port: number, ms: number): Promise<RequestRecord[]> {
  const load = startLoad({ port, connections: 32, mix: { fast: 1, post: 0, slow: 0 }, maxDurationMs: ms + 10_000 });
  await new Promise((resolve) => setTimeout(resolve, ms));
  return load.stop();
}

async function measure(instances: number, seconds: number): Promise<Result> {
  const host = await createTestHost({ instances, env: { HEALTH_TIMEOUT: '30s' } });
  try {
    host.example.commit('v1', (dir) => copyFileSync(CPU_APP, path.join(dir, 'server.js')));
    const first = await host.run(['deploy']);
    if (first.exitCode !== 0) throw new Error(`deploy of v1 failed: ${first.output.slice(-1500)}`);
    const fastOnly = { fast: 1, post: 0, slow: 0 };
    // Warm up nginx's keep-alive pools and the app's JIT, then measure.
    await loadFor(host.nginx.port, 2000);
    const records = await loadFor(host.nginx.port, seconds * 1000);
    const ok = records.filter((record) => record.status === 200);
    host.example.commit('v2', (dir) => copyFileSync(CPU_APP, path.join(dir, 'server.js')));
    const during = startLoad({ port: host.nginx.port, connections: 32, mix: fastOnly, maxDurationMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deployed = await host.run(['deploy']);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deployRecords = await during.stop();
    const newPids = new Set(deployRecords.filter((record) => record.version === 'v2' && record.pid).map((record) => record.pid));
    return {
      instances,
      requests: ok.length,
      seconds,
      p50: percentile(ok.map((record) => record.latencyMs), 50),
      p99: percentile(ok.map((record) => record.latencyMs), 99),
      deployRequests: deployRecords.length,
      deployFailed: failures(deployRecords).length,
      newPids: newPids.size,
      deployOk: deployed.exitCode === 0,
    };
  } finally {
    await host.cleanUp();
  }
}

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' }, out: { type: 'string', default: path.join(PROJECT_DIR, 'bench', 'results') } } });
const seconds = Number(values.seconds);
const host = hostInfo();
console.log(`switchyard instances bench: INSTANCES=1 and 2, ${seconds} s of GET / (2 ms CPU each) through nginx, on ${describeHost(host)}`);
const results: Result[] = [];
for (const instances of [1, 2]) {
  const result = await measure(instances, seconds);
  results.push(result);
  console.log(`  INSTANCES=${instances}: ${(result.requests / seconds).toFixed(0)} req/s`);
}
const base = results[0].requests;
const section: Section = {
  title: `Throughput by INSTANCES (${os.cpus().length} cores; 32 keep-alive connections through nginx, GET / burning 2 ms of CPU, ${seconds} s each)`,
  header: ['INSTANCES', 'requests/s', 'vs N=1', 'latency p50 / p99 (ms)', 'deploy under load: requests / failed', 'new slot processes that answered', 'deploy'],
  rows: results.map((result) => [
    `${result.instances}`,
    (result.requests / result.seconds).toFixed(0),
    `${(result.requests / base).toFixed(2)}×`,
    `${result.p50} / ${result.p99}`,
    `${result.deployRequests} / ${result.deployFailed}`,
    `${result.newPids} of ${result.instances}`,
    result.deployOk ? 'ok' : 'FAILED',
  ]),
  note: 'The load generator (this process) and nginx share the same cores as the app, so N=2 cannot double; what it shows is how much of the second core the app gets.',
};
console.log(renderText([section]));
mkdirSync(values.out!, { recursive: true });
writeFileSync(path.join(values.out!, 'instances.md'), `# INSTANCES bench\n\n${describeHost(host)}, ${new Date().toISOString()}\n\n${renderMarkdown([section])}`);
process.exitCode = results.every((result) => result.deployOk && result.deployFailed === 0) ? 0 : 1;
