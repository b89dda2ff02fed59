import { execa } from 'execa';
import { cpSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TS } from '../../harness/host.ts';
import { freePort } from '../../harness/ports.ts';
import { waitFor } from '../../harness/wait.ts';
import { isAlive, isGroupAlive, procStat } from '../../lib/host/process.ts';

/** `start` and `stop` for one app: detached from the caller's session, logged, restarted with backoff, stopped with escalation. */
describe('start and stop', () => {
  let dir: string;
  let appDir: string;
  let port: number;
  const env = () => ({ DEPLOY_ENV_FILE: path.join(dir, 'none.env'), DEPLOY_ROOT: path.join(dir, 'root'), NO_COLOR: '1', STOP_TIMEOUT: '3s' });
  const run = (args: string[], extra: Record<string, string> = {}) =>
    execa(DEPLOY_TS, args, { env: { ...env(), ...extra }, reject: false });
  const pidFile = () => path.join(dir, 'root', 'run', 'web.pid');
  const status = () => JSON.parse(readFileSync(path.join(dir, 'root', 'run', 'web.status.json'), 'utf8'));
  const answer = async () => (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).json();
  const log = () => readFileSync(path.join(dir, 'root', 'run', 'web.log'), 'utf8');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-start-'));
    appDir = path.join(dir, 'app');
    cpSync(new URL('../../templates/example-app', import.meta.url).pathname, appDir, { recursive: true });
    port = await freePort();
    // An empty env file: only the environment configures these commands.
    writeFileSync(path.join(dir, 'none.env'), '');
  });
  afterAll(async () => {
    await run(['stop', 'web']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the app detached from the caller\'s session, with a pid file and a log', async () => {
    const result = await run(['start', 'web', appDir, String(port)]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`web \\(pid \\d+\\) listens on 127\\.0\\.0\\.1:${port}; log: .*web\\.log`));
    const pid = Number(readFileSync(pidFile(), 'utf8'));
    expect(isAlive(pid)).toBe(true);
    // Its own session: the end of the SSH session that started it (SIGHUP to that session) never reaches it.
    const session = (p: number) => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[3]);
    expect(session(pid)).toBe(pid);
    expect(session(pid)).not.toBe(session(process.pid));
    expect((await answer()).version).toBe('v1');
    expect(readFileSync(path.join(dir, 'root', 'run', 'web.log'), 'utf8')).toMatch(/example-app v1 listening/);
    const again = await run(['start', 'web', appDir, String(port)]);
    expect(again.exitCode).not.toBe(0);
    expect(again.stderr).toMatch(/port \d+ of web is already in use|web is already running/);
  }, 60_000);

  it('restarts the app with backoff when it crashes', async () => {
    const first = status().appPid;
    // Kill the start command's own process (npm's `sh -c node server.js`): the app under it must not
    // be left holding the port, or every restart would fail.
    const group = Number(readFileSync(pidFile(), 'utf8'));
    const shell = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry) && procStat(Number(entry))?.pgrp === group)
      .map(Number)
      .find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() === 'sh -c node server.js');
    expect(shell, 'npm\'s `sh -c node server.js` in the group').toBeDefined();
    process.kill(shell!, 'SIGKILL');
    await waitFor('the supervisor to start the app again', () => status().starts >= 2 && status().appPid, { timeoutMs: 15_000, output: log });
    expect(status().starts).toBe(2);
    expect(status().appPid).not.toBe(first);
    const served = await waitFor('the restarted app to answer', () => answer().catch(() => undefined), { timeoutMs: 15_000, output: log });
    expect(served.version).toBe('v1');
    expect(readFileSync(path.join(dir, 'root', 'run', 'web.log'), 'utf8')).toMatch(/exited unexpectedly \(.*\); restarting in 1s/);
  }, 60_000);

  it('stops with SIGTERM and says so; stopping again says it is not running, exit 0', async () => {
    const pid = Number(readFileSync(pidFile(), 'utf8'));
    const stopped = await run(['stop', 'web']);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout, readFileSync(path.join(dir, 'root', 'run', 'web.log'), 'utf8').slice(-3000)).toMatch(/web exited after SIGTERM/);
    expect(isGroupAlive(pid)).toBe(false);
    const again = await run(['stop', 'web']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/web is not running; nothing to stop/);
  }, 60_000);

  it('escalates to SIGKILL after STOP_TIMEOUT for an app that ignores SIGTERM', async () => {
    copyFileSync(new URL('../fixtures/apps/ignores-sigterm.js', import.meta.url).pathname, path.join(appDir, 'server.js'));
    const started = await run(['start', 'web', appDir, String(port)]);
    expect(started.exitCode, started.stderr).toBe(0);
    const stopped = await run(['stop', 'web']);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stdout).toMatch(/web ignored SIGTERM for 3\.0s \(STOP_TIMEOUT\) and was killed with SIGKILL/);
  }, 60_000);
});
