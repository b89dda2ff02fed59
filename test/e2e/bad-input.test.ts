import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { ROOT_MODE } from '../../lib/host/deploy-root.ts';
import { waitFor } from '../../harness/wait.ts';

const fixture = (name: string) => new URL(`../fixtures/apps/${name}`, import.meta.url).pathname;
const TEMPLATE_SERVER = new URL('../../templates/example-app/server.js', import.meta.url).pathname;

/** Bad input gets one clear error line and changes nothing: the live slot, nginx's upstream and the state stay as they were. */
describe('bad input changes nothing', () => {
  let host: TestHost;
  let snapshot: { state: string; upstream: string };

  beforeAll(async () => {
    host = await createDeployedTestHost({ env: { ...APP_WITHOUT_NPM, HEALTH_TIMEOUT: '3s', STOP_TIMEOUT: '2s' } });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  const takeSnapshot = () => {
    snapshot = { state: readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'), upstream: readFileSync(host.upstreamFile, 'utf8') };
  };
  /** The one error line, and proof that nothing changed. */
  async function expectRefused(
    result: { exitCode: number; stderr: string },
    pattern: RegExp,
    options: { stateMayRecordFailure?: boolean } = {},
  ) {
    expect(result.exitCode).not.toBe(0);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/); // no stack trace
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(snapshot.upstream);
    const state = JSON.parse(readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'));
    if (!options.stateMayRecordFailure) expect(JSON.stringify(state)).toBe(JSON.stringify(JSON.parse(snapshot.state)));
    expect(state.live).toBe(JSON.parse(snapshot.state).live);
    expect((await host.get('/')).status).toBe(200);
  }

  it('commits that look like options or hold shell metacharacters are names that do not exist; nothing runs', async () => {
    const marker = path.join(host.dir, 'pwned');
    for (const commit of [`--upload-pack=touch ${marker}`, '-h', `$(touch ${marker})`, `;touch ${marker}`, `\`touch ${marker}\``, 'main; rm -rf /']) {
      takeSnapshot();
      const result = await host.run(['deploy', '--', commit]);
      await expectRefused(result, /^error: deploy failed: (cannot deploy .*looks like an option|commit .* does not exist in the repository)/, { stateMayRecordFailure: true });
      expect(existsSync(marker), commit).toBe(false);
    }
    // Without `--`, an option-looking commit is an unknown option: refused before anything is read.
    takeSnapshot();
    await expectRefused(await host.run(['deploy', '--upload-pack=x']), /^error: unknown option "--upload-pack=x"; nothing was changed/);
  }, 120_000);

  it('names that escape their folder are refused', async () => {
    takeSnapshot();
    for (const name of ['../x', '/etc/passwd', 'a/b', 'a\nb', '..']) {
      await expectRefused(await host.run(['start', name, host.dir, '45678']), /app name must be letters, digits/);
      await expectRefused(await host.run(['stop', name]), /app name must be letters, digits/);
    }
    await expectRefused(await host.run(['deploy'], { APP_NAME: '../escape' }), /APP_NAME must be 1-64 letters/);
  }, 120_000);

  it('ports out of range, equal, or held by a foreign process are refused', async () => {
    takeSnapshot();
    await expectRefused(await host.run(['deploy'], { PORT_B: '70000' }), /PORT_B must be a port number 1-65535; got "70000"/);
    await expectRefused(await host.run(['deploy'], { PORT_B: String(host.ports.a) }), /PORT_A and PORT_B must differ/);
    const foreign = net.createServer().listen(host.ports.b, '127.0.0.1');
    await new Promise((resolve) => foreign.once('listening', resolve));
    try {
      const result = await host.run(['deploy']);
      await expectRefused(result, new RegExp(`port ${host.ports.b} of slot b is already in use by a process Switchyard did not start.*slot a .* is still live`), { stateMayRecordFailure: true });
      expect(result.stdout).not.toMatch(/checkout/);
    } finally {
      foreign.close();
    }
  }, 60_000);

  it('a missing, unreadable or mistyped .env is reported with the key or path', async () => {
    takeSnapshot();
    await expectRefused(await host.run(['deploy'], { DEPLOY_ENV_FILE: path.join(host.dir, 'nope.env') }), /config file .*nope\.env does not exist; nothing was changed; fix DEPLOY_ENV_FILE/);
    const folder = path.join(host.dir, 'folder.env');
    mkdirSync(folder, { recursive: true });
    await expectRefused(await host.run(['deploy'], { DEPLOY_ENV_FILE: folder }), /config file .*folder\.env cannot be read \(EISDIR\)/);
    await expectRefused(await host.run(['deploy'], { HEALTH_TIMEOUT: 'soon', SWITCH: 'haproxy' }), /HEALTH_TIMEOUT must be a duration .* SWITCH must be .*nginx-live-file.*; got "haproxy"/);
    const original = readFileSync(host.envFile, 'utf8');
    writeFileSync(host.envFile, `${original}HELTH_PATH=/up\n`);
    try {
      const result = await host.run(['status']);
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toMatch(/warning: unknown key HELTH_PATH in .* \(did you mean HEALTH_PATH\?\); it is ignored/);
    } finally {
      writeFileSync(host.envFile, original);
    }
  }, 60_000);

  it('a DEPLOY_ROOT that is not a writable folder is reported', async () => {
    takeSnapshot();
    const file = path.join(host.dir, 'a-file');
    writeFileSync(file, '');
    await expectRefused(await host.run(['deploy'], { DEPLOY_ROOT: path.join(file, 'root') }), /DEPLOY_ROOT .*a-file\/root is not a writable folder \(ENOTDIR\); nothing was changed/);
  }, 60_000);

  it('a full disk during the build fails the deploy with the build output', async () => {
    // A new commit: the live one is a kept release, which a deploy would start without building.
    host.example.commit('v1-full-disk');
    takeSnapshot();
    const result = await host.run(['deploy'], { BUILD_CMD: 'head -c 1048576 /dev/zero > /dev/full' });
    await expectRefused(result, /deploy failed: .*failed with exit code 1.*slot a .* is still live/, { stateMayRecordFailure: true });
    expect(result.stderr).toMatch(/No space left on device/);
  }, 60_000);

  it('a health URL that redirects or hangs is not healthy', async () => {
    host.example.commit('v2-unhealthy', (repo) => copyFileSync(fixture('unhealthy.js'), path.join(repo, 'server.js')));
    for (const [mode, last] of [['302', 'HTTP 302'], ['hang', 'no answer within']] as const) {
      // The app sees APP_ENV_FILE, never the deploying shell's environment.
      expect((await host.run(['env', 'set', `FIXTURE_HEALTH=${mode}`])).exitCode).toBe(0);
      takeSnapshot();
      const result = await host.run(['deploy']);
      await expectRefused(result, new RegExp(`slot b failed its health check: .*did not answer 2xx within 3\\.0s \\(last: ${last}`), { stateMayRecordFailure: true });
      expect(JSON.parse((await host.run(['status', '--json'])).stdout).slots.b.pid).toBeNull();
    }
  }, 60_000);

  it('a build that prints megabytes streams them with bounded memory', async () => {
    host.example.commit('v3', (repo) => copyFileSync(TEMPLATE_SERVER, path.join(repo, 'server.js')));
    // 20 MB of output through a deploy whose heap is capped at 48 MB: buffering it all would crash.
    const result = await host.run(['deploy'], { BUILD_CMD: "yes 'a line of build output, again and again' | head -c 20000000; echo build-finished", NODE_OPTIONS: '--max-old-space-size=48' });
    expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
    expect(result.stdout).toContain('build │ build-finished');
    expect((await host.get('/')).json.version).toBe('v3');
  }, 120_000);

  it('an app that ignores SIGTERM is killed after STOP_TIMEOUT, and the operator is told', async () => {
    host.example.commit('v4-stubborn', (repo) => copyFileSync(fixture('ignores-sigterm.js'), path.join(repo, 'server.js')));
    const stubborn = await host.run(['deploy']);
    expect(stubborn.exitCode, stubborn.output).toBe(0);
    const slot = host.state().live;
    host.example.commit('v5', (repo) => copyFileSync(TEMPLATE_SERVER, path.join(repo, 'server.js')));
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`warning: slot ${slot} did not exit within STOP_TIMEOUT \\(2\\.0s\\) after SIGTERM and was killed with SIGKILL`));
    expect(result.stdout).toMatch(new RegExp(`drain .*slot ${slot} killed with SIGKILL`));
    expect(JSON.parse((await host.run(['status', '--json'])).stdout).slots[slot].pid).toBeNull();
  }, 120_000);

  it('stop of the live slot is refused unless --force', async () => {
    takeSnapshot();
    const live = host.state().live;
    await expectRefused(await host.run(['stop', `exampleapp-${live}`]), /exampleapp-[ab] is the live slot \([ab]\); stopping it would take the site down; it was left running; .* --force/);
    const idle = await host.run(['stop', `exampleapp-${live === 'a' ? 'b' : 'a'}`]);
    expect(idle.exitCode).toBe(0);
    expect(idle.stdout).toMatch(/is not running; nothing to stop/);
  }, 60_000);

  it('a deploy during a rollback exits at once naming the rollback', async () => {
    const pauseFile = path.join(host.dir, 'pause-rollback');
    let rollbackOutput: string | undefined;
    const rollback = host.run(['rollback'], { SWITCHYARD_TEST_FAULT: 'pause@health', SWITCHYARD_TEST_PAUSE_FILE: pauseFile }).then((result) => {
      rollbackOutput = result.output;
      return result;
    });
    // Bounded, and over as soon as the rollback ends without pausing: its output then says why.
    await waitFor('the rollback to reach its health phase', () => existsSync(`${pauseFile}.reached`) || rollbackOutput !== undefined, { timeoutMs: 60_000, output: () => rollbackOutput ?? '(still running)' });
    expect(existsSync(`${pauseFile}.reached`), rollbackOutput).toBe(true);
    takeSnapshot();
    const deploy = await host.run(['deploy']);
    writeFileSync(pauseFile, 'go');
    expect(deploy.exitCode).toBe(75);
    expect(deploy.stderr).toMatch(/error: another rollback is running \(pid \d+, user \S+, started /);
    expect((await rollback).exitCode).toBe(0);
  }, 120_000);

  it('keeps state, lock, logs and slots private, and never prints secrets', async () => {
    const mode = (file: string) => statSync(file).mode & 0o777;
    expect(mode(host.deployRoot)).toBe(ROOT_MODE);
    expect(mode(path.join(host.deployRoot, 'state.json'))).toBe(0o600);
    expect(mode(path.join(host.deployRoot, 'run'))).toBe(0o700);
    expect(mode(path.join(host.deployRoot, 'run', 'exampleapp-a.log'))).toBe(0o600);
    const hooks = path.join(host.dir, 'deploy', 'hooks');
    mkdirSync(hooks, { recursive: true });
    writeFileSync(path.join(hooks, 'begin'), '#!/bin/sh\necho "token is $NOTIFY_TOKEN"\n');
    chmodSync(path.join(hooks, 'begin'), 0o755);
    try {
      // Hooks get APP_ENV_FILE's variables; a secret-named one is never printed.
      expect((await host.run(['env', 'set', 'NOTIFY_TOKEN=tok-9f8e7d6c5b'])).exitCode).toBe(0);
      const result = await host.run(['deploy', '--', 'no-such-commit']);
      expect(result.output).toContain('token is [REDACTED]');
      expect(result.output).not.toContain('tok-9f8e7d6c5b');
    } finally {
      rmSync(path.join(hooks, 'begin'));
    }
  }, 60_000);
});
