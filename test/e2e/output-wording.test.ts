import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { APP_WITHOUT_NPM, createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { lockPath } from '../../lib/record/lock.ts';
import { startTicks } from '../../lib/host/proc.ts';
import { waitFor } from '../../harness/wait.ts';

/** Lines of a deploy's output the real-app trial found misleading (issue #23, item 8), on a real host behind nginx. */
describe('what a deploy says', () => {
  let host: TestHost;
  let other: ChildProcess | undefined;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: { ...APP_WITHOUT_NPM, STOP_TIMEOUT: '8s' } });
  }, 120_000);
  afterAll(async () => {
    other?.kill('SIGKILL');
    await host?.cleanUp();
  }, 60_000);

  it('a drain waiting on a request in flight prints its time once per line, not "(5.0s) (5.0s)"', async () => {
    // A request in flight on the live slot: a connection that sent half a request and waits.
    const socket = net.connect(host.ports.a, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /slow?ms=1 HTTP/1.1\r\nHost: x\r\n');
    host.example.commit('v2');
    const result = await host.run(['deploy']);
    socket.destroy();
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toMatch(/drain +… 1 connection\(s\) from nginx still open to slot a \(\d+(\.\d+)?m?s\)$/m);
    expect(result.output).not.toMatch(/\(\d+(\.\d+)?m?s\) \(\d+(\.\d+)?m?s\)/);
  }, 120_000);

  it("a deploy that waited for the bake window's watcher says it waited, not only 'held by pid N (10.7s)'", async () => {
    // The watcher holding the lock: a live process, recorded as a bake-watch holder.
    other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await waitFor('the stand-in watcher to start', () => other!.pid !== undefined && startTicks(other!.pid) !== undefined, { timeoutMs: 10_000 });
    writeFileSync(lockPath(host.deployRoot), JSON.stringify({ pid: other.pid, user: 'ana', command: 'bake-watch', startedAt: new Date().toISOString(), host: os.hostname(), processStart: startTicks(other.pid!) }));
    host.example.commit('v3');
    const deploy = execa(DEPLOY_TS, ['deploy'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1' }, reject: false, all: true, timeout: 120_000 });
    let output = '';
    deploy.all?.on('data', (chunk) => (output += chunk));
    await waitFor('the deploy to wait for the watcher', () => output.includes("is stopping the old slot; waiting for it"), { timeoutMs: 60_000, output: () => output });
    // Released as the watcher releases it once the old slot is stopped.
    rmSync(lockPath(host.deployRoot), { force: true });
    const done = await deploy;
    const result = { exitCode: done.exitCode, output };
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).toMatch(/lock +held by pid \d+, after waiting \d+(\.\d+)?m?s for the bake window's watcher to release it/);
  }, 120_000);

  it('a deploy while nginx is stopped says nginx is not running and how to start it, not "still live and serving" nor "install the site"', async () => {
    await host.nginx.stop();
    host.example.commit('v4');
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors.join('\n')).toMatch(/nginx is not running \(.*\), so nothing serves the site/);
    expect(errors.join('\n')).toMatch(/start nginx \(systemctl start nginx; without systemd: sudo \/usr\/sbin\/nginx\)/);
    expect(errors.join('\n')).not.toMatch(/still live and serving|install the site/);
  }, 120_000);
});
