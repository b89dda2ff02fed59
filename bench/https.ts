/**
 * `npm run bench:https [-- --deploys N --renewals N --seconds S --out DIR]`: what HTTPS costs and
 * what a renewal does to traffic, on the harness host (a real root nginx, the example app, `./deploy.ts
 * deploy` as an operator runs it) with NGINX_TLS=acme, a certificate from Debian's pebble through
 * certbot certonly --webroot and Switchyard's deploy-hook. Measures: failed requests during forced
 * renewals under load (kept-alive connections and a full handshake per request); the same load across
 * `nginx -s reload` (what a reload-based hook would cost); fresh-handshake throughput with the
 * per-handshake certificate against the same site with a static one; deploy wall over HTTPS vs HTTP.
 * Writes DIR/https.md. Exit code 1 when a deploy failed or a renewal failed a request.
 */
import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { certonlyArgs, prepareTlsSite, startAcme } from '../harness/acme.ts';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../harness/host.ts';
import { failures, startLoad, type LoadOptions, type RequestRecord } from '../harness/load.ts';
import { waitFor } from '../harness/wait.ts';
import { readPidFile } from '../lib/host/process.ts';
import { childPids } from '../lib/host/proc.ts';
import { describeHost, hostInfo } from './host-info.ts';
import { renderMarkdown, renderText, type Section } from './report/table.ts';

const PROJECT_DIR = fileURLToPath(new URL('..', import.meta.url));
const NAME = 'app.test';
const { values } = parseArgs({ options: {
  deploys: { type: 'string', default: '3' },
  renewals: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '10' },
  out: { type: 'string', default: path.join(PROJECT_DIR, 'bench', 'results') },
} });
const deploys = Number(values.deploys);
const renewals = Number(values.renewals);
const seconds = Number(values.seconds);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;

/** `action` under two loads at once: 8 kept-alive connections and 8 with a connection (a TLS handshake) per request. */
async function underLoad<T>(base: LoadOptions, action: () => Promise<T>): Promise<{ result: T; records: RequestRecord[] }> {
  const kept = startLoad({ ...base, connections: 8, maxDurationMs: 300_000 });
  const fresh = startLoad({ ...base, connections: 8, fresh: true, maxDurationMs: 300_000 });
  await sleep(1000);
  const result = await action();
  await sleep(1000);
  return { result, records: [...(await kept.stop()), ...(await fresh.stop())] };
}

/** Deploy walls (ms) of `count` deploys of alternating commits under load. */
async function deployWalls(host: TestHost, load: LoadOptions, count: number): Promise<{ walls: number[]; failed: number; ok: boolean }> {
  const walls: number[] = [];
  let failed = 0;
  let ok = true;
  for (let index = 0; index < count; index++) {
    host.example.commit(`v${index + 2}`);
    const { result, records } = await underLoad(load, async () => {
      const started = Date.now();
      const run = await host.run(['deploy']);
      return { wall: Date.now() - started, ok: run.exitCode === 0 };
    });
    walls.push(result.wall);
    failed += failures(records).length;
    ok &&= result.ok;
  }
  return { walls, failed, ok };
}

async function handshakeRate(load: LoadOptions): Promise<number> {
  const fresh = startLoad({ ...load, connections: 16, fresh: true, maxDurationMs: seconds * 1000 + 10_000 });
  await sleep(seconds * 1000);
  const records = await fresh.stop();
  return records.filter((record) => record.status === 200).length / seconds;
}

const info = hostInfo();
console.log(`switchyard https bench: ${renewals} renewals, ${deploys} deploys over HTTPS and HTTP, ${seconds} s handshake runs, on ${describeHost(info)}`);
const work = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-https-'));
chmodSync(work, 0o755);
const site = await prepareTlsSite(work, NAME);
const tlsHost = await createTestHost({ env: { ...APP_WITHOUT_NPM, ...site.env } });
const httpHost = await createTestHost({ env: { ...APP_WITHOUT_NPM } });
const acme = await startAcme(site.acmeDir, tlsHost.nginx.port);
const rows: Record<string, string[][]> = { renewal: [], handshake: [], deploy: [] };
let ok = true;
try {
  for (const host of [tlsHost, httpHost]) if ((await host.run(['deploy'])).exitCode !== 0) throw new Error('the first deploy failed');
  await acme.certbot(certonlyArgs(site, NAME));
  const tls: LoadOptions = { port: site.tlsPort, tls: { servername: NAME, ca: acme.root }, mix: { fast: 1 } };
  const master = readPidFile(tlsHost.nginx.pidFile) as number;

  for (let index = 0; index < renewals; index++) {
    const workers = childPids(master).sort().join(',');
    const { records } = await underLoad(tls, () => acme.certbot(['renew', '--force-renewal', '--no-random-sleep-on-renew']));
    const reloaded = childPids(master).sort().join(',') !== workers;
    ok &&= failures(records).length === 0;
    rows.renewal.push([`certbot renew + switchyard-tls-hook #${index + 1}`, `${records.length}`, `${failures(records).length}`, reloaded ? 'yes' : 'no']);
  }
  for (let index = 0; index < renewals; index++) {
    const workers = childPids(master);
    const { records } = await underLoad(tls, async () => {
      await execa('sh', ['-c', tlsHost.nginx.reloadCmd]);
      await waitFor('the old workers to exit', () => workers.every((pid) => !childPids(master).includes(pid)), { timeoutMs: 60_000 });
    });
    rows.renewal.push([`nginx -s reload #${index + 1} (for contrast)`, `${records.length}`, `${failures(records).length}`, 'yes']);
  }

  const perHandshake = await handshakeRate(tls);
  const siteFile = path.join(tlsHost.nginx.prefix, 'site.conf');
  const text = readFileSync(siteFile, 'utf8');
  writeFileSync(siteFile, text.replace(/\$switchyard_exampleapp_per_handshake;/g, ';'));
  const workers = childPids(master);
  await execa('sh', ['-c', `${tlsHost.nginx.testCmd} && ${tlsHost.nginx.reloadCmd}`]);
  await waitFor('the old workers to exit', () => workers.every((pid) => !childPids(master).includes(pid)), { timeoutMs: 60_000 });
  const loadedOnce = await handshakeRate(tls);
  writeFileSync(siteFile, text);
  const staticWorkers = childPids(master);
  await execa('sh', ['-c', `${tlsHost.nginx.testCmd} && ${tlsHost.nginx.reloadCmd}`]);
  await waitFor('the old workers to exit', () => staticWorkers.every((pid) => !childPids(master).includes(pid)), { timeoutMs: 60_000 });
  rows.handshake.push(['read at each handshake (the site)', perHandshake.toFixed(0), '1.00×']);
  rows.handshake.push(['loaded once (static path, needs a reload to renew)', loadedOnce.toFixed(0), `${(loadedOnce / perHandshake).toFixed(2)}×`]);

  const overTls = await deployWalls(tlsHost, tls, deploys);
  const overHttp = await deployWalls(httpHost, { port: httpHost.nginx.port, mix: { fast: 1 } }, deploys);
  ok &&= overTls.ok && overHttp.ok;
  for (const [label, result] of [['HTTPS (NGINX_TLS=acme)', overTls], ['HTTP', overHttp]] as const) {
    rows.deploy.push([label, `${(median(result.walls) / 1000).toFixed(2)} s`, result.walls.map((wall) => (wall / 1000).toFixed(2)).join(', '), `${result.failed}`, result.ok ? 'ok' : 'FAILED']);
  }
} finally {
  await acme.stop();
  await tlsHost.cleanUp();
  await httpHost.cleanUp();
  rmSync(work, { recursive: true, force: true });
}

const sections: Section[] = [
  {
    title: 'Failed requests during a certificate renewal (8 kept-alive connections + 8 with a TLS handshake per request, GET /)',
    header: ['event under load', 'requests', 'failed', 'nginx reloaded'],
    rows: rows.renewal,
    note: 'The hook writes key and chain in one rename and the site reads them at each handshake, so nothing reloads; a reload closes idle kept-alive connections, which a client writing on one just then sees as a reset.',
  },
  {
    title: `Full TLS handshakes per second (16 connections, one request each, ${seconds} s; ECDSA P-256 from pebble)`,
    header: ['certificate', 'handshakes + requests / s', 'vs per handshake'],
    rows: rows.handshake,
    note: 'Load generator, nginx and the app share the same cores. Kept-alive connections and resumed sessions do not read the files.',
  },
  {
    title: `Deploy wall under load, HTTPS vs HTTP (${deploys} deploys each, the example app without npm, BAKE_TIME=0)`,
    header: ['site', 'median', 'each', 'failed requests', 'deploys'],
    rows: rows.deploy,
  },
];
console.log(renderText(sections));
mkdirSync(values.out!, { recursive: true });
writeFileSync(path.join(values.out!, 'https.md'), `# HTTPS bench\n\n${describeHost(info)}, ${new Date().toISOString()}\n\n${renderMarkdown(sections)}`);
process.exitCode = ok ? 0 : 1;
