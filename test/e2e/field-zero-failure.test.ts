import { copyFileSync, chmodSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';
import { readPidFile } from '../../lib/host/process.ts';
import { childPids } from '../../lib/host/proc.ts';

/**
 * The promise as the field tests it: SWITCH unset, every path at its default, nginx started as root
 * so its workers run as another user, and an app with no SIGTERM handler (as Express and Fastify
 * generate them) under keep-alive GET, POST and slow-POST load. Needs root, as CI runs: that is what
 * makes nginx's workers run as nobody.
 */
const noHandlerApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;
const LOAD_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

describe('zero failed requests in the default mode, on a host set up as in the field', () => {
  let host: TestHost;

  beforeAll(async () => {
    expect(process.getuid?.(), 'this test must run as root: it starts nginx as root so that its workers run as nobody, as a distro nginx does').toBe(0);
    host = await createTestHost();
    host.example.commit('v1', (dir) => copyFileSync(noHandlerApp, path.join(dir, 'server.js')));
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  /** How often each request id was handled, over both slots' logs: more than once means it ran twice. */
  function handledTwice(): string[] {
    const counts = new Map<string, number>();
    const runDir = path.join(host.deployRoot, 'run');
    for (const file of readdirSync(runDir).filter((name) => name.endsWith('.log'))) {
      for (const match of readFileSync(path.join(runDir, file), 'utf8').matchAll(/^handled (\S+)$/gm)) counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
    }
    return [...counts].filter(([, count]) => count > 1).map(([id]) => id);
  }

  async function underLoad(args: string[], version: string): Promise<{ output: string; records: RequestRecord[] }> {
    const load = startLoad({ port: host.nginx.port, connections: 32, mix: LOAD_MIX, slowMs: [300, 1500], maxDurationMs: 90_000 });
    await loadAnswered(load);
    const result = await host.run(args);
    const returnedAt = Date.now();
    // Requests begun after the command returned: none may reach the old version.
    await loadAnswered(load, returnedAt);
    const records = await load.stop();
    expect(result.exitCode, result.output).toBe(0);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    const lateOld = records.filter((record) => record.startedAt >= returnedAt && record.version !== version);
    expect(lateOld.map((record) => `${record.method} ${record.kind} answered by ${record.version}`), 'answered by the old version after the command returned').toEqual([]);
    // Slow POSTs that were running on the old slot at the switch finished there: the drain waited for them.
    expect(records.some((record) => record.kind === 'slowpost' && record.version !== version)).toBe(true);
    expect(handledTwice(), 'requests handled by both slots (re-run by nginx after the old slot died)').toEqual([]);
    expect(host.nginx.severeErrors()).toEqual([]);
    expect(result.stdout).toMatch(/drain +\d+ connection\(s\) from nginx to slot [ab] closed in/);
    return { output: result.output, records };
  }

  it('runs nginx workers as another user, with DEPLOY_ROOT private and only its nginx folder open to them', () => {
    const workers = childPids(readPidFile(host.nginx.pidFile)!);
    expect(workers.length).toBeGreaterThan(0);
    for (const pid of workers) expect(statSync(`/proc/${pid}`).uid, 'nginx workers run as root; the test would prove nothing').not.toBe(0);
    const mode = (file: string) => statSync(path.join(host.deployRoot, file)).mode & 0o777;
    expect(mode('.')).toBe(0o711);
    expect(mode('slots')).toBe(0o700);
    expect(mode('run')).toBe(0o700);
    expect(mode('state.json')).toBe(0o600);
    expect(mode('nginx')).toBe(0o755);
  });

  it('deploys an app with no SIGTERM handler under GET/POST/slow-POST load: 0 failed, none ran twice, none old after the command', async () => {
    host.example.commit('v2');
    const { output } = await underLoad(['deploy'], 'v2');
    expect(output).toMatch(/switch +live-file → slot b, confirmed through nginx/);
    expect((await host.get('/')).json.version).toBe('v2');
  }, 120_000);

  it('rolls back the same way', async () => {
    await underLoad(['rollback'], 'v1');
    expect((await host.get('/')).json.version).toBe('v1');
  }, 120_000);

  it('refuses to switch when nginx workers cannot reach the live-file, naming the folder, and keeps serving', async () => {
    const before = host.state();
    const newer = host.example.commit('v3');
    chmodSync(host.dir, 0o700);
    try {
      const result = await host.run(['deploy', newer]);
      expect(result.exitCode).not.toBe(0);
      expect(result.stderr).toMatch(new RegExp(`nginx workers run as \\S+ \\(uid \\d+\\) and cannot reach .*live-b: ${host.dir} is mode 0700`));
      expect(result.stderr).toMatch(/chmod o\+x/);
      expect(host.state().live).toBe(before.live);
    } finally {
      chmodSync(host.dir, 0o755);
    }
    expect((await host.get('/')).json.version).toBe('v1');
    expect(host.nginx.severeErrors()).toEqual([]);
  }, 120_000);
});
