import { copyFileSync, readdirSync, readlinkSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { freePorts } from '../../harness/ports.ts';
import { waitFor } from '../../harness/wait.ts';

const fixture = (name: string) => new URL(`../fixtures/apps/${name}`, import.meta.url).pathname;
const TEMPLATE_SERVER = new URL('../../templates/example-app/server.js', import.meta.url).pathname;
const TEMPLATE_BUILD = new URL('../../templates/example-app/build.js', import.meta.url).pathname;

/** Each failure exits non-zero with one clear line, and the previously live version still answers through nginx. */
describe('failed deploys leave the live slot serving', () => {
  let host: TestHost;
  let v1: string;

  beforeAll(async () => {
    host = await createDeployedTestHost({ env: { HEALTH_TIMEOUT: '3s' } });
    v1 = host.example.head();
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  async function expectV1StillLive() {
    const response = await host.get('/');
    expect(response.status).toBe(200);
    expect(response.json.version).toBe('v1');
    const state = host.state();
    expect(state.live).toBe('a');
    expect(state.slots.a.commit).toBe(v1);
    expect(state.journal).toBeNull();
    expect(readFileSync(host.upstreamFile, 'utf8')).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${host.ports.a} max_fails=0;`));
  }

  function errorLine(stderr: string): string {
    const line = stderr.split('\n').find((text) => text.startsWith('error: '));
    expect(line, stderr).toBeDefined();
    return line!;
  }

  it('an unknown commit fails before any slot is touched', async () => {
    const result = await host.run(['deploy', 'no-such-commit']);
    expect(result.exitCode).not.toBe(0);
    expect(errorLine(result.stderr)).toMatch(/commit "no-such-commit" does not exist.*slot a \([0-9a-f]{7}\) is still live/);
    expect(result.stdout).not.toMatch(/checkout/);
    await expectV1StillLive();
  }, 60_000);

  it('a failing build stops the deploy and shows the build output', async () => {
    host.example.commit('v2-broken-build', (repo) => {
      writeFileSync(path.join(repo, 'build.js'), 'console.error("build exploded on purpose"); process.exit(3);\n');
    });
    const result = await host.run(['deploy']);
    expect(result.exitCode).not.toBe(0);
    expect(errorLine(result.stderr)).toMatch(/deploy failed: .*failed with exit code 3.*still live/);
    expect(result.output).toContain('build exploded on purpose');
    await expectV1StillLive();
    expect(host.state().slots.b.commit).toBeNull();
    expect(host.state().history.at(-1).outcome).toBe('failed');
  }, 60_000);

  it('an app that crashes on boot fails at once, with the last lines of its log', async () => {
    host.example.commit('v3-crash', (repo) => {
      copyFileSync(TEMPLATE_BUILD, path.join(repo, 'build.js'));
      copyFileSync(fixture('crash-on-boot.js'), path.join(repo, 'server.js'));
    });
    const result = await host.run(['deploy']);
    expect(result.exitCode).not.toBe(0);
    expect(errorLine(result.stderr)).toMatch(/slot b failed its health check: the app exited during boot/);
    expect(result.stderr).toContain('boot failure: missing DATABASE_URL');
    // "At once": the supervisor's exit report ends the wait, not the HEALTH_TIMEOUT.
    expect(result.output).not.toMatch(/did not answer 2xx within/);
    await expectV1StillLive();
    const status = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(status.slots.b.pid).toBeNull();
  }, 60_000);

  it('an app that never becomes healthy is stopped after HEALTH_TIMEOUT', async () => {
    host.example.commit('v4-unhealthy', (repo) => copyFileSync(fixture('unhealthy.js'), path.join(repo, 'server.js')));
    const result = await host.run(['deploy']);
    expect(result.exitCode).not.toBe(0);
    expect(errorLine(result.stderr)).toMatch(/slot b failed its health check: .*did not answer 2xx within 3\.0s \(last: HTTP 500\)/);
    await expectV1StillLive();
    const status = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(status.slots.b.pid).toBeNull();
  }, 60_000);

  it('a failing `nginx -t` stops the deploy before traffic moves, and stops the new slot', async () => {
    host.example.commit('v5-good', (repo) => copyFileSync(TEMPLATE_SERVER, path.join(repo, 'server.js')));
    const before = readFileSync(host.upstreamFile, 'utf8');
    const broken = path.join(host.dir, 'broken-nginx.conf');
    writeFileSync(broken, readFileSync(host.nginx.confFile, 'utf8').replace('events {', 'this_is_not_a_directive on;\nevents {'));
    // The default mode's upstream changes only with the ports (a deploy of the same ports runs no nginx -t at all): a new port for slot b.
    const [newPort] = await freePorts(1);
    const result = await host.run(['deploy'], { NGINX_TEST_CMD: `nginx -p ${host.nginx.prefix} -c ${broken} -t -q`, PORT_B: String(newPort) });
    expect(result.exitCode).not.toBe(0);
    expect(errorLine(result.stderr)).toMatch(/nginx rejected the new upstream .*restored and nginx was not reloaded/);
    expect(result.stderr).toContain('this_is_not_a_directive');
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(before);
    await expectV1StillLive();
  }, 60_000);

  it('a second deploy while one runs exits at once naming the holder', async () => {
    const pauseFile = path.join(host.dir, 'pause');
    // A new commit: v5-good was built by the deploy nginx -t stopped, and a kept release skips the build.
    host.example.commit('v6', (repo) => copyFileSync(TEMPLATE_SERVER, path.join(repo, 'server.js')));
    const first = host.run(['deploy'], { SWITCHYARD_TEST_FAULT: 'pause@build', SWITCHYARD_TEST_PAUSE_FILE: pauseFile });
    await waitFor('the first deploy to reach its build step', () => existsSync(`${pauseFile}.reached`), { timeoutMs: 60_000 });
    expect(existsSync(`${pauseFile}.reached`), 'the first deploy never reached its build step').toBe(true);
    const second = await host.run(['deploy']);
    const rollback = await host.run(['rollback']);
    writeFileSync(pauseFile, 'go');
    const firstResult = await first;
    expect(second.exitCode).toBe(75);
    expect(errorLine(second.stderr)).toMatch(/another deploy is running \(pid \d+, user \S+, started \d{4}-.*\); nothing was changed; wait for it to finish/);
    expect(rollback.exitCode).toBe(75);
    expect(firstResult.exitCode, firstResult.output).toBe(0);
    const response = await host.get('/');
    expect(response.json.version).toBe('v6');
  }, 120_000);

  it('a START_CMD that daemonizes the app is named as such, not as a crash', async () => {
    host.example.commit('v7-daemon', (repo) => copyFileSync(TEMPLATE_SERVER, path.join(repo, 'server.js')));
    const result = await host.run(['deploy'], { START_CMD: 'setsid -f node server.js > /dev/null 2>&1' });
    try {
      expect(result.exitCode).not.toBe(0);
      expect(errorLine(result.stderr)).toMatch(/START_CMD exited, yet something holds port \d+: the command daemonized the app .*; the escaped process still holds port \d+; run the app in the foreground/);
      expect((await host.get('/')).json.version).toBe('v6');
    } finally {
      // The escaped app is ours (started by this test's deploy): find it by its folder and stop it by pid.
      for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        try {
          if (readlinkSync(`/proc/${entry}/cwd`).startsWith(path.join(host.deployRoot, 'releases')) && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('server.js')) process.kill(Number(entry), 'SIGKILL');
        } catch {
          // Gone, or not ours to read.
        }
      }
    }
  }, 60_000);
});
