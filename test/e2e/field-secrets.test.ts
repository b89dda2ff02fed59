import { execa } from 'execa';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, DEPLOY_TS, type TestHost } from '../../harness/host.ts';
import { redact, redactUrlCredentials, redactValue } from '../../lib/config/redact.ts';
import { filesContaining } from '../support/field-support.ts';
import { hasOpen, waitFor } from '../../harness/wait.ts';

describe('redact', () => {
  it('hides known values and credentials inside URLs, leaving a bare ssh user name', () => {
    expect(redact('token tok-123456 and tok-123456!', ['tok-123456'])).toBe('token [REDACTED] and [REDACTED]!');
    expect(redact('short abc stays', ['abc'])).toBe('short abc stays');
    expect(redactUrlCredentials('fetch https://ana:pw@git.example/x.git and http://TOKEN@h/y')).toBe('fetch https://[REDACTED]@git.example/x.git and http://[REDACTED]@h/y');
    expect(redactUrlCredentials('ssh://git@github.com/a/b.git')).toBe('ssh://git@github.com/a/b.git');
    expect(redactValue({ reason: 'x tok-123456', list: ['tok-123456'], n: 3, none: null }, ['tok-123456'])).toEqual({ reason: 'x [REDACTED]', list: ['[REDACTED]'], n: 3, none: null });
  });
});

/** A secret-named variable's value reaching every output path: each one prints [REDACTED]. */
describe('secrets in every output', () => {
  const TOKEN = 'tok-9f8e7d6c5b4a';
  let host: TestHost;
  let reasonFile: string;
  const run = (args: string[], env: Record<string, string> = {}) => host.run(args, { NOTIFY_TOKEN: TOKEN, ...env });

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file' });
    const hooks = path.join(host.dir, 'deploy', 'hooks');
    mkdirSync(hooks, { recursive: true });
    reasonFile = path.join(host.dir, 'failed-reason.txt');
    writeFileSync(path.join(hooks, 'failed'), `#!/bin/sh\nprintf '%s' "$SWITCHYARD_REASON" > ${reasonFile}\n`);
    chmodSync(path.join(hooks, 'failed'), 0o755);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('a failure quoting the secret: state reason, history --json, status --json and the failed hook get [REDACTED]', async () => {
    host.example.commit('v2'); // a new commit, so the build runs
    const result = await run(['deploy'], { BUILD_CMD: `echo "calling the API with ${TOKEN}"; false ${TOKEN}` });
    expect(result.exitCode, result.output).toBe(1);
    expect(result.output).toContain('[REDACTED]');
    expect(result.output).not.toContain(TOKEN);
    expect(filesContaining(host.deployRoot, TOKEN)).toEqual([]);
    expect(host.state().history.at(-1).reason).toMatch(/false \[REDACTED\]/);
    const history = await run(['history', '--json']);
    expect(history.exitCode, history.output).toBe(0);
    expect(history.stdout).not.toContain(TOKEN);
    expect(JSON.parse(history.stdout).at(-1).reason).toMatch(/false \[REDACTED\]/);
    const status = await run(['status', '--json']);
    expect(status.stdout).not.toContain(TOKEN);
    expect(JSON.parse(status.stdout).lastEvent.reason).toMatch(/false \[REDACTED\]/);
    const reason = readFileSync(reasonFile, 'utf8');
    expect(reason).toMatch(/false \[REDACTED\]/);
    expect(reason).not.toContain(TOKEN);
  }, 120_000);

  it('an app that prints the secret into its log: logs and logs -f print [REDACTED]', async () => {
    rmSync(path.join(host.dir, 'deploy', 'hooks', 'failed'));
    const deployed = await run(['deploy'], { START_CMD: `echo "starting with token ${TOKEN}"; exec npm start` });
    expect(deployed.exitCode, deployed.output).toBe(0);
    const logs = await run(['logs', '-n', '20']);
    expect(logs.exitCode, logs.output).toBe(0);
    expect(logs.stdout).toContain('starting with token [REDACTED]');
    expect(logs.stdout).not.toContain(TOKEN);
    const follow = execa(DEPLOY_TS, ['logs', '-n', '0', '-f'], { env: { DEPLOY_ENV_FILE: host.envFile, NO_COLOR: '1', NOTIFY_TOKEN: TOKEN }, reject: false, all: true });
    let output = '';
    follow.all?.on('data', (chunk) => (output += chunk));
    try {
      const live = host.state().live;
      const log = path.join(host.deployRoot, 'run', `exampleapp-${live}.log`);
      // -n 0: only what is written once it follows; a line begun before it opened the file is read whole.
      await waitFor('logs -f to open the log', () => hasOpen(follow.pid, log), { timeoutMs: 30_000, output: () => output });
      // The app's log gets a line written in two pieces, the secret split between them.
      writeFileSync(log, `again ${TOKEN.slice(0, 6)}`, { flag: 'a' });
      // Part of the shape, not a wait for an event: longer than the follower's 250 ms poll, so it
      // most likely reads the halves apart (read together, the assertion holds all the same).
      await new Promise((resolve) => setTimeout(resolve, 600));
      writeFileSync(log, `${TOKEN.slice(6)} end\n`, { flag: 'a' });
      await waitFor('logs -f to print the appended line', () => output.includes('again [REDACTED] end'), { timeoutMs: 30_000, output: () => output });
      expect(output).not.toContain(TOKEN);
    } finally {
      follow.kill('SIGTERM');
      await follow;
    }
  }, 120_000);
});
