import { execa } from 'execa';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { duringLoad, failures, summarizeFailures, type RequestRecord } from '../../harness/load.ts';
import { openConnections } from '../../lib/slot/connections.ts';
import { readPidFile } from '../../lib/host/process.ts';
import { childPids } from '../../lib/host/proc.ts';

/**
 * The seeds' other layouts (issue 12), as the field runs them: nginx started as root (workers as
 * nobody), default paths, an app with no SIGTERM handler under keep-alive GET, POST and slow-POST
 * load. Unix-socket slots (SLOT_LISTEN=socket) and a pool of processes per slot (INSTANCES=2): each
 * deploys and rolls back with 0 failed requests, and survives a deploy killed mid-switch.
 */
const noHandlerApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;
const LOAD_MIX = { fast: 0.5, post: 0.2, slow: 0.1, slowpost: 0.2 };

async function underLoad(
  host: TestHost,
  args: string[],
  version: string,
  env: Record<string, string> = {},
): Promise<{ output: string; stdout: string; records: RequestRecord[] }> {
  const { result, records, returnedAt } = await duringLoad(
    { port: host.nginx.port, connections: 24, mix: LOAD_MIX, slowMs: [300, 1500], maxDurationMs: 90_000, leadMs: 800 },
    () => host.run(args, env),
  );
  expect(result.exitCode, result.output).toBe(0);
  expect(failures(records), summarizeFailures(records)).toEqual([]);
  expect(records.length).toBeGreaterThan(50);
  const lateOld = records.filter((record) => record.startedAt >= returnedAt && record.version !== version);
  expect(lateOld.map((record) => `${record.method} ${record.kind} answered by ${record.version}`), 'answered by the old version after the command returned').toEqual([]);
  // Slow POSTs running on the old slot at the switch finished there: the drain at the proxy waited for them.
  expect(records.some((record) => record.kind === 'slowpost' && record.version !== null && record.version !== version)).toBe(true);
  expect(host.nginx.severeErrors()).toEqual([]);
  return { output: result.output, stdout: result.stdout, records };
}

function nginxWorkerUid(host: TestHost): number {
  const workers = childPids(readPidFile(host.nginx.pidFile)!);
  expect(workers.length).toBeGreaterThan(0);
  const uid = statSync(`/proc/${workers[0]}`).uid;
  expect(uid, 'nginx workers run as root; the test would prove nothing').not.toBe(0);
  return uid;
}

/** The environment a slot's app process really runs with (its /proc/<pid>/environ). */
function appEnvironments(host: TestHost, slot: 'a' | 'b'): Record<string, string>[] {
  const runDir = path.join(host.deployRoot, 'run');
  const supervisors = readdirSync(runDir)
    .filter((name) => name.startsWith(`exampleapp-${slot}`) && name.endsWith('.pid'))
    .map((name) => Number(readFileSync(path.join(runDir, name), 'utf8')));
  return supervisors.map((pid) => {
    const status = JSON.parse(readFileSync(path.join(runDir, readdirSync(runDir).find((name) => name.endsWith('.status.json') && readFileSync(path.join(runDir, name), 'utf8').includes(`"supervisorPid":${pid}`))!), 'utf8'));
    const environ = readFileSync(`/proc/${status.appPid}/environ`, 'utf8');
    return Object.fromEntries(environ.split('\0').filter(Boolean).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  });
}

/** Ports some process listens on, from /proc/net/tcp{,6}. */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A') ports.add(parseInt(fields[1].split(':').pop()!, 16));
    }
  }
  return ports;
}

async function killedMidSwitchThenRecovers(host: TestHost, point: string, version: string, next: string): Promise<void> {
  host.example.commit(version);
  const { result: recovered, records } = await duringLoad(
    { port: host.nginx.port, connections: 8, maxDurationMs: 90_000, leadMs: 300, tailMs: 300 },
    async () => {
      const killed = await host.run(['deploy'], { SWITCHYARD_TEST_FAULT: `kill@${point}` });
      expect(killed.exitCode, killed.output).not.toBe(0);
      expect((await host.get('/')).status).toBe(200);
      host.example.commit(next);
      return host.run(['deploy']);
    },
  );
  expect(recovered.exitCode, recovered.output).toBe(0);
  expect(recovered.stderr).toMatch(/took over a stale lock left by pid \d+/);
  expect(failures(records), summarizeFailures(records)).toEqual([]);
  expect((await host.get('/')).json.version).toBe(next);
  const report = JSON.parse((await host.run(['status', '--json'])).stdout);
  expect(report.disagreements).toEqual([]);
}

describe('SLOT_LISTEN=socket: slots on unix sockets only nginx can reach', () => {
  let host: TestHost;

  beforeAll(async () => {
    expect(process.getuid?.(), 'this test must run as root: it starts nginx as root so that its workers run as nobody, as a distro nginx does').toBe(0);
    host = await createTestHost({ env: { SLOT_LISTEN: 'socket' } });
    host.example.commit('v1', (dir) => copyFileSync(noHandlerApp, path.join(dir, 'server.js')));
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  const socketOf = (slot: 'a' | 'b') => path.join(host.deployRoot, 'sockets', `${slot}1.sock`);

  it('gives the app its socket as PORT and SWITCHYARD_SOCKET, uses no TCP port, and lets only nginx workers in', async () => {
    const [env] = appEnvironments(host, 'a');
    expect(env.PORT).toBe(socketOf('a'));
    expect(env.SWITCHYARD_SOCKET).toBe(socketOf('a'));
    expect(statSync(socketOf('a')).isSocket()).toBe(true);
    const listening = listeningPorts();
    expect(listening.has(host.ports.a) || listening.has(host.ports.b), 'a slot listens on a TCP port').toBe(false);
    expect(readFileSync(host.upstreamFile, 'utf8')).toContain(`server unix:${socketOf('a')} max_fails=0;`);
    // The folder: owned by the deploy user, group of nginx's workers, which may only pass through; nobody else.
    const workerUid = nginxWorkerUid(host);
    const dir = statSync(path.join(host.deployRoot, 'sockets'));
    expect(dir.mode & 0o7777).toBe(0o2710);
    const workerGid = Number(/^Gid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${childPids(readPidFile(host.nginx.pidFile)!)[0]}/status`, 'utf8'))![1]);
    expect(dir.gid).toBe(workerGid);
    expect(statSync(socketOf('a')).gid).toBe(workerGid);
    // Another user (daemon, uid 1, not in nginx's group) cannot connect; the workers' user can.
    const connect = `require('net').connect(${JSON.stringify(socketOf('a'))}).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})`;
    const asOther = await execa('setpriv', ['--reuid=1', '--regid=1', '--clear-groups', process.execPath, '-e', connect], { reject: false });
    expect(asOther.stdout.trim()).toBe('EACCES');
    const asWorker = await execa('setpriv', [`--reuid=${workerUid}`, `--regid=${workerGid}`, '--clear-groups', process.execPath, '-e', connect], { reject: false });
    expect(asWorker.stdout.trim()).toBe('connected');
  });

  it('deploys an app with no SIGTERM handler under GET/POST/slow-POST load: 0 failed, drained at the proxy on the socket', async () => {
    host.example.commit('v2');
    const { stdout } = await underLoad(host, ['deploy'], 'v2');
    expect(stdout).toMatch(/start +slot b on socket .*b1\.sock/);
    expect(stdout).toMatch(/drain +\d+ connection\(s\) from nginx to slot a closed in/);
    expect(openConnections({ kind: 'socket', path: socketOf('a'), index: 0 })).toBe(0);
    expect((await host.get('/')).json.version).toBe('v2');
  }, 120_000);

  it('rolls back the same way', async () => {
    await underLoad(host, ['rollback'], 'v1');
    expect((await host.get('/')).json.version).toBe('v1');
  }, 120_000);

  it('removes a stale socket file a killed app left, and refuses a path that is not a socket', async () => {
    // A socket whose process died with SIGKILL stays on disk; listen() on it would fail with EADDRINUSE.
    await execa(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketOf('b'))}, () => process.kill(process.pid, 'SIGKILL'))`], { reject: false });
    expect(statSync(socketOf('b')).isSocket()).toBe(true);
    host.example.commit('v3');
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('v3');

    // Slot a's app (no SIGTERM handler) died without closing its socket, which stays: put a plain file there instead.
    rmSync(socketOf('a'), { force: true });
    writeFileSync(socketOf('a'), 'not a socket\n');
    host.example.commit('v4');
    const refused = await host.run(['deploy']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/a1\.sock, where slot a must listen, is a file that is not a socket/);
    expect(readFileSync(socketOf('a'), 'utf8')).toBe('not a socket\n');
    expect((await host.get('/')).json.version).toBe('v3');
    rmSync(socketOf('a'));
  }, 120_000);

  it('killed mid-switch (after the live-file moved): traffic is served and the next deploy recovers', async () => {
    await killedMidSwitchThenRecovers(host, 'live-file-written', 'v5', 'v6');
    expect(existsSync(socketOf('a')) && existsSync(socketOf('b'))).toBe(true);
  }, 180_000);
});

describe('INSTANCES=2: a pool of processes per slot', () => {
  let host: TestHost;

  beforeAll(async () => {
    expect(process.getuid?.(), 'this test must run as root: it starts nginx as root so that its workers run as nobody, as a distro nginx does').toBe(0);
    host = await createTestHost({ instances: 2 });
    host.example.commit('v1', (dir) => copyFileSync(noHandlerApp, path.join(dir, 'server.js')));
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('starts both processes on PORT_A and PORT_A+1, lists both in each group, and shows each in status', async () => {
    const envs = appEnvironments(host, 'a');
    expect(envs.map((env) => env.PORT).sort()).toEqual([String(host.ports.a), String(host.ports.a + 1)]);
    expect(envs.map((env) => env.SWITCHYARD_INSTANCE).sort()).toEqual(['1', '2']);
    const upstream = readFileSync(host.upstreamFile, 'utf8');
    for (const port of [host.ports.a, host.ports.a + 1, host.ports.b, host.ports.b + 1]) expect(upstream).toContain(`127.0.0.1:${port} max_fails=0`);
    const report = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(report.slots.a.instances.map((each: any) => [each.name, each.endpoint, each.healthy])).toEqual([
      ['exampleapp-a', host.ports.a, true],
      ['exampleapp-a.2', host.ports.a + 1, true],
    ]);
    const text = await host.run(['status']);
    expect(text.stdout).toMatch(/exampleapp-a\.2 +\d+ +\d+ +healthy/);
  });

  it('deploys under GET/POST/slow-POST load with 0 failed requests; nginx used both new processes; both old ones stopped', async () => {
    host.example.commit('v2');
    const { stdout, records } = await underLoad(host, ['deploy'], 'v2');
    expect(stdout).toMatch(/start +slot b on ports \d+-\d+ \(2 processes, first pid \d+\)/);
    expect(stdout).toMatch(/health +2 instances .* answered 2xx/);
    const newPids = new Set(records.filter((record) => record.version === 'v2').map((record) => record.pid).filter(Boolean));
    expect(newPids.size, 'requests reached both processes of the new slot').toBe(2);
    expect(appEnvironments(host, 'a')).toEqual([]);
  }, 120_000);

  it('refuses overlapping port ranges before anything changes', async () => {
    const result = await host.run(['status'], { PORT_B: String(host.ports.a + 1) });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/the port ranges of the slots overlap: with INSTANCES=2, slot a uses/);
  });

  it('killed mid-switch (after the live-file moved): traffic is served and the next deploy recovers', async () => {
    await killedMidSwitchThenRecovers(host, 'live-file-written', 'v3', 'v4');
  }, 180_000);

  it('going back to INSTANCES=1 stops the second process of the old slot too', async () => {
    host.writeEnv({ INSTANCES: '1' });
    host.example.commit('v5');
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const live = host.state().live as 'a' | 'b';
    const old = live === 'a' ? 'b' : 'a';
    expect(appEnvironments(host, old)).toEqual([]);
    expect(appEnvironments(host, live)).toHaveLength(1);
  }, 120_000);
});

describe('SLOT_LISTEN=socket with SWITCH=nginx-reload', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-reload', env: { SLOT_LISTEN: 'socket' } });
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('writes unix: servers, confirms through nginx, and reads the live slot back from the upstream', async () => {
    host.example.commit('v2');
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const upstream = readFileSync(host.upstreamFile, 'utf8');
    expect(upstream).toContain(`server unix:${path.join(host.deployRoot, 'sockets', 'b1.sock')} max_fails=0;`);
    expect(upstream).toContain(`server unix:${path.join(host.deployRoot, 'sockets', 'a1.sock')} max_fails=0 backup;`);
    expect((await host.get('/')).json.version).toBe('v2');
    const report = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(report.switchSlot).toBe('b');
    expect(report.disagreements).toEqual([]);
    expect(host.nginx.severeErrors()).toEqual([]);
  }, 120_000);
});
