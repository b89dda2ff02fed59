import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';

/** What an operator at 2 a.m. relies on: a dry run that changes nothing, JSON that matches the state, plain output over SSH. */
describe('operator experience', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost({ env: APP_WITHOUT_NPM });
    host.example.commit('v2');
    const second = await host.run(['deploy']);
    expect(second.exitCode, second.output).toBe(0);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  const snapshot = () => ({
    state: readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'),
    upstream: readFileSync(host.upstreamFile, 'utf8'),
    root: readdirSync(host.deployRoot).sort(),
    slotA: readdirSync(path.join(host.deployRoot, 'slots', 'a')).sort(),
  });

  it('deploy --dry-run prints the plan and changes nothing', async () => {
    const before = snapshot();
    // A commit that is not a kept release yet (v2 again, as a new commit): the plan has every build step.
    const head = host.example.commit('v2');
    const result = await host.run(['deploy', '--dry-run', head]);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`dry run: deploy ${head.slice(0, 7)} to slot a \\(port ${host.ports.a}\\)`));
    for (const step of ['lock', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']) expect(result.stdout).toMatch(new RegExp(`^  ${step} `, 'm'));
    expect(result.stdout).toContain('npm ci --no-audit --no-fund --loglevel=error');
    expect(result.stdout).toContain(host.nginx.testCmd);
    expect(result.stdout).toMatch(/live-a there and remove live-b, confirm through http:\/\/127\.0\.0\.1:\d+\/__switchyard\/health \(5 answers in a row from slot a\)/);
    expect(snapshot()).toEqual(before);
    expect(existsSync(path.join(host.deployRoot, 'deploy.lock'))).toBe(false);
  }, 60_000);

  it('status --json and history --json parse and match the state file', async () => {
    const state = host.state();
    const status = JSON.parse((await host.run(['status', '--json'])).stdout);
    expect(status.live).toBe(state.live);
    expect(status.next_deploy).toBe(state.next_deploy);
    for (const slot of ['a', 'b']) expect(status.slots[slot].commit).toBe(state.slots[slot].commit);
    expect(status.slots[state.live].pid).toBe(state.slots[state.live].pid);
    const history = JSON.parse((await host.run(['history', '--json', '-n', '2'])).stdout);
    expect(history).toEqual(state.history.slice(-2));
    const text = await host.run(['history']);
    expect(text.stdout.trim().split('\n')).toHaveLength(state.history.length);
    expect(text.stdout).toMatch(/deploy +slot b [0-9a-f]{7} +success/);
  }, 60_000);

  it('deploy --json prints one parseable event per line, with step durations', async () => {
    const result = await host.run(['deploy', '--json']);
    expect(result.exitCode, result.output).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const steps = events.filter((event) => event.event === 'step').map((event) => event.step);
    expect(steps).toEqual(['lock', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']);
    expect(events.every((event) => event.event !== 'step' || typeof event.ms === 'number')).toBe(true);
    expect(events.at(-1).event).toBe('success');
  }, 120_000);

  it('logs shows the live slot\'s log', async () => {
    const result = await host.run(['logs', '-n', '5']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/example-app v2 listening on 127\.0\.0\.1:\d+/);
  }, 60_000);

  it('runs from any folder through a symlink in PATH, finding its own .env; plain text without a TTY', async () => {
    const bin = path.join(host.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(DEPLOY_TS, path.join(bin, 'switchyard'));
    // No DEPLOY_ENV_FILE here: the default .env beside the real deploy.ts does not exist in the
    // checkout, so a config error that names that path proves the symlink was resolved.
    const result = await execa('switchyard', ['status'], { cwd: '/', env: { PATH: `${bin}:${process.env.PATH}` }, reject: false, extendEnv: false });
    expect(result.stderr).toContain(`${path.dirname(DEPLOY_TS)}`);
    expect(result.stderr).toMatch(/^error: no \.env at \S+\/\.env \(and APP_NAME, REPO, DEPLOY_ROOT not set in the environment\); nothing was changed; create it: `cp \S+\.env\.example \S+\.env` and edit it, or `\.\/deploy\.ts init /m);
    const status = await execa('switchyard', ['status'], { cwd: '/', env: { PATH: `${bin}:${process.env.PATH}`, DEPLOY_ENV_FILE: host.envFile } });
    expect(status.stdout).toMatch(/live slot [ab]/);
    expect(status.stdout + status.stderr).not.toMatch(/\x1b\[/);
  }, 60_000);

  it('a silent long build shows it is alive every 5 s, not more often', async () => {
    host.example.commit('v2');
    const result = await host.run(['deploy'], { BUILD_CMD: 'sleep 11' });
    expect(result.exitCode, result.output).toBe(0);
    const beats = result.stdout.split('\n').filter((line) => /build …/.test(line));
    expect(beats).toHaveLength(2);
    expect(beats[0]).toMatch(/still running, no output for 5s \(5\.\ds\)/);
  }, 120_000);
});
