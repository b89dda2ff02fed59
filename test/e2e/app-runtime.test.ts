import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { startLoad } from '../../harness/load.ts';
import { waitFor } from '../../harness/wait.ts';
import { fixtureApp } from '../support/fixture-app.ts';

/**
 * What a real app needs around it, end to end with real processes, git and nginx: its environment
 * from APP_ENV_FILE only, SHARED_PATHS across deploy and rollback, exec, bounded logs, and a reboot
 * (every process of both slots killed) followed by `resume`.
 */

// The app as a real one with a SIGTERM handler and a long keep-alive: its environment, .env, uploads and log lines.
const runtimeApp = fixtureApp({ graceful: true, keepAliveMs: 65_000 });
const LOG_MAX = 1024 * 1024;

/** Every process in the process group of each slot's supervisor (the supervisor's pid is the group id): ours only. */
function slotProcesses(deployRoot: string): number[] {
  const groups = ['a', 'b']
    .map((slot) => path.join(deployRoot, 'run', `exampleapp-${slot}.pid`))
    .filter((file) => existsSync(file))
    .map((file) => Number(readFileSync(file, 'utf8').trim()));
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (groups.includes(Number(fields[2])) && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}


/** Numbered lines `line N xxx` in the slot's log files, N → how many times. */
function numberedLines(logFile: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const file of readdirSync(path.dirname(logFile)).filter((name) => name === path.basename(logFile) || name.startsWith(`${path.basename(logFile)}.`))) {
    for (const line of readFileSync(path.join(path.dirname(logFile), file), 'utf8').split('\n')) {
      const match = /^line (\d+) x{80}$/.exec(line);
      if (match) counts.set(Number(match[1]), (counts.get(Number(match[1])) ?? 0) + 1);
    }
  }
  return counts;
}

describe("the app's environment, files, logs and reboot", () => {
  let host: TestHost;
  const shared = () => path.join(host.deployRoot, 'shared');
  const liveSlot = (): 'a' | 'b' => host.state().live;
  const direct = async (method: string, pathname: string, body?: string) => {
    const response = await fetch(`http://127.0.0.1:${host.ports[liveSlot()]}${pathname}`, { method, body, headers: { connection: 'close' } });
    return response.json();
  };

  beforeAll(async () => {
    host = await createTestHost({
      env: { SHARED_PATHS: '.env uploads/', LOG_MAX_SIZE: '1M', LOG_KEEP: '30', START_CMD: 'node server.js', BUILD_CMD: 'env > .build-env && npm run build --if-present' },
    });
    host.example.commit('v2', runtimeApp);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('env set / env / env unset edit APP_ENV_FILE (0600) atomically; values are never listed; bad names are refused', async () => {
    const set = await host.run(['env', 'set', 'GREETING=hello', 'API_TOKEN=tok-0123456789', 'TEMP=1']);
    expect(set.exitCode, set.output).toBe(0);
    const file = path.join(shared(), 'app.env');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const unset = await host.run(['env', 'unset', 'TEMP']);
    expect(unset.exitCode, unset.output).toBe(0);
    const list = await host.run(['env']);
    expect(list.exitCode, list.output).toBe(0);
    expect(list.stdout.split('\n').slice(0, 2)).toEqual(['GREETING=[REDACTED]', 'API_TOKEN=[REDACTED]']);
    expect(list.output).not.toContain('hello');
    const bad = await host.run(['env', 'set', '1BAD=x', 'PORT=1']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/"1BAD" is not a variable name.*PORT is set by Switchyard/);
    expect(readFileSync(file, 'utf8')).not.toMatch(/1BAD|PORT/);
  }, 60_000);

  it('an app deployed from a shell with FOO=leak sees APP_ENV_FILE, not FOO; so does its build', async () => {
    const deployed = await host.run(['deploy'], { FOO: 'leak', NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/' });
    expect(deployed.exitCode, deployed.output).toBe(0);
    const env = (await host.get('/env')).json;
    expect(env.FOO).toBeNull();
    expect(env.GREETING).toBe('hello');
    const allowed = ['PATH', 'HOME', 'LANG', 'GREETING', 'API_TOKEN', 'PORT', 'HOST', 'SWITCHYARD_SLOT', 'SWITCHYARD_INSTANCE', 'PWD'];
    expect(env.keys.filter((key: string) => !allowed.includes(key) && !key.startsWith('LC_'))).toEqual([]);
    const build = readFileSync(path.join(host.deployRoot, 'slots', liveSlot(), '.build-env'), 'utf8');
    expect(build).toMatch(/^GREETING=hello$/m);
    expect(build).not.toMatch(/^FOO=/m);
    expect(build).not.toMatch(/^DEPLOY_ENV_FILE=/m);
  }, 120_000);

  it('exec runs an argv in the live release with the app environment and passes its exit code through; refuses when nothing is live', async () => {
    const live = liveSlot();
    const result = await host.run(['exec', '--', 'sh', '-c', 'echo "$GREETING on $PORT in $(pwd -P) FOO=${FOO:-unset}"; exit 7'], { FOO: 'leak' });
    expect(result.exitCode, result.output).toBe(7);
    expect(result.stdout).toMatch(new RegExp(`^hello on ${host.ports[live]} in /.* FOO=unset$`));
    const node = await host.run(['exec', '--', process.execPath, '-e', 'process.exit(3)']);
    expect(node.exitCode, node.output).toBe(3);
    // An argument is an argument: a shell-looking one is never run.
    const literal = await host.run(['exec', '--', 'echo', '$(touch pwned); rm -rf /']);
    expect(literal.stdout).toBe('$(touch pwned); rm -rf /');
    expect(existsSync(path.join(host.deployRoot, 'slots', live, 'pwned'))).toBe(false);
    const empty = await host.run(['exec', '--', 'true'], { DEPLOY_ROOT: path.join(host.dir, 'empty-root') });
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toMatch(/nothing is live.*nothing was run/);
  }, 60_000);

  // Needs linkSharedPaths(config, buildDir) called by the cycle after checkout, before install (lib/cycle/cycle.ts): fails until it is.
  it('SHARED_PATHS: the .env the app reads and its uploads/ survive a deploy, a rollback and a restart', async () => {
    writeFileSync(path.join(shared(), '.env'), 'SAUCE=ketchup\n', { mode: 0o600 });
    expect((await direct('POST', '/upload?name=first.txt', 'one')).saved).toBe(true);
    expect((await direct('GET', '/dotenv')).dotenv).toBe('SAUCE=ketchup\n');
    host.example.commit('v3', runtimeApp);
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect((await direct('GET', '/')).version).toBe('v3');
    expect((await direct('GET', '/dotenv')).dotenv).toBe('SAUCE=ketchup\n');
    expect((await direct('GET', '/uploads')).files).toEqual(['first.txt']);
    await direct('POST', '/upload?name=second.txt', 'two');
    const rolledBack = await host.run(['rollback']);
    expect(rolledBack.exitCode, rolledBack.output).toBe(0);
    expect((await direct('GET', '/')).version).toBe('v2');
    expect((await direct('GET', '/uploads')).files).toEqual(['first.txt', 'second.txt']);
    expect((await direct('GET', '/dotenv')).dotenv).toBe('SAUCE=ketchup\n');
    expect(readdirSync(path.join(shared(), 'uploads')).sort()).toEqual(['first.txt', 'second.txt']);
    await direct('POST', '/upload?name=third.txt', 'three');
    const restarted = await host.run(['restart']);
    expect(restarted.exitCode, restarted.output).toBe(0);
    expect((await direct('GET', '/')).version).toBe('v2');
    expect((await direct('GET', '/uploads')).files).toEqual(['first.txt', 'second.txt', 'third.txt']);
    expect((await direct('GET', '/dotenv')).dotenv).toBe('SAUCE=ketchup\n');
  }, 180_000);

  it('a commit that contains a SHARED_PATHS entry is refused, naming it; the live slot keeps serving', async () => {
    const before = host.state();
    host.example.commit('v4-env-committed', (repo) => writeFileSync(path.join(repo, '.env'), 'SAUCE=mayo\n'));
    const refused = await host.run(['deploy']);
    expect(refused.exitCode, refused.output).toBe(1);
    expect(refused.stderr).toMatch(/SHARED_PATHS "\.env" exists in the commit itself/);
    expect(host.state().live).toBe(before.live);
    expect(readFileSync(path.join(shared(), '.env'), 'utf8')).toBe('SAUCE=ketchup\n');
    host.example.commit('v5', (repo) => rmSync(path.join(repo, '.env')));
  }, 120_000);

  it('a 10 MB log rotates by LOG_MAX_SIZE with no line lost or split; logs -n spans the files; logs -f follows across rotations', async () => {
    const live = liveSlot();
    const logFile = path.join(host.deployRoot, 'run', `exampleapp-${live}.log`);
    const base = Math.max(0, ...numberedLines(logFile).keys());
    const count = 110_000;
    expect((await direct('POST', `/log?from=${base + 1}&count=${count}`)).written).toBe(count);
    const counts = await waitFor('the last numbered line in the log', () => {
      const seen = numberedLines(logFile);
      return seen.has(base + count) && seen;
    });
    const missing = [];
    for (let n = base + 1; n <= base + count; n++) if (counts.get(n) !== 1) missing.push(n);
    expect(missing.slice(0, 10), `${missing.length} lines missing or doubled`).toEqual([]);
    const files = readdirSync(path.dirname(logFile)).filter((name) => name.startsWith(`exampleapp-${live}.log`));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) expect(statSync(path.join(path.dirname(logFile), file)).size).toBeLessThanOrEqual(LOG_MAX + 64 * 1024);

    const tail = await host.run(['logs', '-n', '15000']);
    expect(tail.exitCode, tail.stderr).toBe(0);
    const numbers = tail.stdout.split('\n').map((line) => /^line (\d+) /.exec(line)?.[1]).filter(Boolean).map(Number);
    expect(numbers.length).toBe(15000);
    expect(Math.max(...numbers)).toBe(base + count);
    // stdout (odd) and stderr (even) are two pipes: each keeps its own order, whole lines, none twice.
    for (const parity of [0, 1]) {
      const stream = numbers.filter((n) => n % 2 === parity);
      expect(stream.every((n, index) => index === 0 || n === stream[index - 1] + 2), `parity ${parity}`).toBe(true);
    }

    const follow = execa(DEPLOY_TS, ['logs', '-n', '1', '-f'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' }, reject: false, buffer: false });
    let output = '';
    follow.stdout?.on('data', (chunk) => (output += chunk));
    try {
      // It prints the last line first: from then on it follows, however slowly it started.
      await waitFor('logs -f to start following', () => /^line \d+ /m.test(output), { timeoutMs: 30_000 });
      const more = 30_000;
      await direct('POST', `/log?from=${base + count + 1}&count=${more}`);
      await waitFor('logs -f to print the last line', () => output.includes(`line ${base + count + more} `), { timeoutMs: 30_000 });
      const followed = new Map<number, number>();
      for (const match of output.matchAll(/^line (\d+) x{80}$/gm)) followed.set(Number(match[1]), (followed.get(Number(match[1])) ?? 0) + 1);
      const lost = [];
      for (let n = base + count + 1; n <= base + count + more; n++) if (followed.get(n) !== 1) lost.push(n);
      expect(lost.slice(0, 10), `${lost.length} lines missing or doubled in logs -f`).toEqual([]);
    } finally {
      follow.kill('SIGTERM');
      await follow;
    }
  }, 180_000);

  it('a crash restart by the supervisor keeps the environment the slot started with; APP_ENV_FILE edits wait for the next deploy', async () => {
    const changed = await host.run(['env', 'set', 'GREETING=changed']);
    expect(changed.stdout).toMatch(/applies at the next deploy, rollback or restart/);
    const before = await direct('GET', '/');
    process.kill(before.pid, 'SIGKILL');
    const after = await waitFor('the supervisor to restart the app', async () => {
      try {
        const answer = await direct('GET', '/');
        return answer.pid !== before.pid && answer;
      } catch {
        return undefined;
      }
    });
    expect(after.version).toBe(before.version);
    expect((await direct('GET', '/env')).GREETING).toBe('hello');
    expect((await host.run(['env', 'set', 'GREETING=hello'])).exitCode).toBe(0);
  }, 60_000);

  it('a reboot (every process of both slots killed) then resume: the same release answers, with 0 failed requests once it is back', async () => {
    const before = host.state();
    const live = before.live as 'a' | 'b';
    const version = (await host.get('/')).json.version;
    const victims = slotProcesses(host.deployRoot);
    expect(victims.length).toBeGreaterThanOrEqual(2);
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    await waitFor('the killed processes to be gone', () => slotProcesses(host.deployRoot).length === 0);
    expect((await host.get('/')).status).toBe(502);

    const resumed = await host.run(['resume']);
    expect(resumed.exitCode, resumed.output).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`resumed: slot ${live} \\(${before.slots[live].commit.slice(0, 7)}\\) .* started again`));
    expect(host.state().live).toBe(live);
    expect(host.state().slots[live].commit).toBe(before.slots[live].commit);

    // maxDurationMs only bounds the load if the wait fails; it stops once 200 requests are answered.
    const load = startLoad({ port: host.nginx.port, connections: 8, maxDurationMs: 60_000 });
    await waitFor('200 requests answered through nginx', () => load.records.length >= 200, { timeoutMs: 60_000 });
    const records = await load.stop();
    expect(records.length).toBeGreaterThan(50);
    expect(records.filter((record) => record.error || record.status !== 200).slice(0, 5)).toEqual([]);
    expect([...new Set(records.map((record) => record.version))]).toEqual([version]);

    const again = await host.run(['resume']);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.stdout).toMatch(/already running/);
  }, 120_000);
});

describe('resume with nothing deployed', () => {
  it('says there is nothing to resume and exits 0', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-resume-'));
    try {
      writeFileSync(path.join(dir, 'switchyard.env'), `APP_NAME=nothing\nREPO=/nonexistent\nDEPLOY_ROOT=${path.join(dir, 'root')}\n`);
      const result = await execa(DEPLOY_TS, ['resume'], { env: { DEPLOY_ENV_FILE: path.join(dir, 'switchyard.env'), NO_COLOR: '1' }, reject: false });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/nothing to resume: no slot is live yet/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
