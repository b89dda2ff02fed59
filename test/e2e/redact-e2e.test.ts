import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { renderAppEnv } from '../../lib/config/app-env.ts';

/**
 * What secrets look like, printed where they do get printed: a PEM key (APP_ENV_FILE, many lines)
 * and a URL-encoded database password, echoed by a failing build, by a hook and by the app. None of
 * their lines or forms reaches the terminal, --json, history --show, logs, logs --deploy, or any
 * deploy log or state file under DEPLOY_ROOT.
 */
const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PASSWORD = 'p@ss/w0rd-7c1e';
const DATABASE_URL = `postgres://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/app`;
/** Prints the key whole, its JSON form, the URL, and the password decoded, the way careless code does. */
const LEAK = [
  `printf '%s\\n' "$PRIVATE_KEY"`,
  `node -e 'console.log(JSON.stringify({ key: process.env.PRIVATE_KEY, url: process.env.DATABASE_URL }))'`,
  `echo "connecting to $DATABASE_URL"`,
  `node -e 'console.log("password", decodeURIComponent(new URL(process.env.DATABASE_URL).password))'`,
].join('; ');

/** Each string a reader could recover a secret from. */
const needles = [
  ...PEM.trim().split('\n').filter((line) => !line.startsWith('-----')),
  PASSWORD,
  encodeURIComponent(PASSWORD),
  JSON.stringify(PASSWORD).slice(1, -1),
];

function leaks(text: string): string[] {
  return needles.filter((needle) => text.includes(needle));
}

function filesLeaking(dir: string): string[] {
  const found: string[] = [];
  const walk = (full: string) => {
    for (const entry of readdirSync(full, { withFileTypes: true })) {
      const child = path.join(full, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && leaks(readFileSync(child, 'utf8')).length > 0) found.push(child);
    }
  };
  walk(dir);
  return found;
}

describe('secrets in every output, in the forms they take', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-live-file', env: { ...APP_WITHOUT_NPM } });
    const appEnv = path.join(host.deployRoot, 'shared', 'app.env');
    mkdirSync(path.dirname(appEnv), { recursive: true, mode: 0o700 });
    writeFileSync(appEnv, renderAppEnv({ PRIVATE_KEY: PEM, DATABASE_URL }), { mode: 0o600 });
    const hooks = path.join(host.dir, 'deploy', 'hooks');
    mkdirSync(hooks, { recursive: true });
    writeFileSync(path.join(hooks, 'pre_start'), `#!/bin/sh\n${LEAK}\n`);
    chmodSync(path.join(hooks, 'pre_start'), 0o755);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('a failing build that prints them: the terminal, --json, history --show, logs --deploy and DEPLOY_ROOT hold none of them', async () => {
    const failed = await host.run(['deploy'], { BUILD_CMD: `${LEAK}; exit 3` });
    expect(failed.exitCode, failed.output).toBe(1);
    expect(failed.output).toContain('[REDACTED]');
    expect(leaks(failed.output)).toEqual([]);
    host.example.commit('v2');
    const json = await host.run(['deploy', '--json'], { BUILD_CMD: `${LEAK}; exit 3` });
    expect(json.exitCode, json.output).toBe(1);
    expect(json.stdout).toContain('[REDACTED]');
    expect(leaks(json.output)).toEqual([]);
    for (const args of [['history', '--show', 'last'], ['history', '--json'], ['logs', '--deploy'], ['status', '--json']]) {
      const shown = await host.run(args);
      expect(shown.output.length, args.join(' ')).toBeGreaterThan(0);
      expect(leaks(shown.output), args.join(' ')).toEqual([]);
    }
    expect(filesLeaking(path.join(host.deployRoot, 'deploys'))).toEqual([]);
    expect(leaks(readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'))).toEqual([]);
  }, 240_000);

  it('a hook and the app that print them: the deploy, logs, logs --deploy and history --show hold none of them', async () => {
    const deployed = await host.run(['deploy'], { START_CMD: `${LEAK}; exec node server.js` });
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect(deployed.output).toMatch(/pre_start │ \[REDACTED\]/);
    expect(leaks(deployed.output)).toEqual([]);
    const logs = await host.run(['logs', '-n', '50']);
    expect(logs.exitCode, logs.output).toBe(0);
    expect(logs.stdout).toContain('password [REDACTED]');
    expect(leaks(logs.output)).toEqual([]);
    for (const args of [['logs', '--deploy'], ['history', '--show', 'last']]) {
      const shown = await host.run(args);
      expect(shown.exitCode, shown.output).toBe(0);
      expect(leaks(shown.output), args.join(' ')).toEqual([]);
    }
    expect(filesLeaking(path.join(host.deployRoot, 'deploys'))).toEqual([]);
    expect(leaks(readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'))).toEqual([]);
  }, 240_000);

  it("a SWITCH_CMD that prints them and fails: its output in the error, history --show and the deploy log hold none of them", async () => {
    const keyFile = path.join(host.dir, 'leak.pem');
    writeFileSync(keyFile, `${PEM}password ${PASSWORD}\n`);
    host.example.commit('v3');
    const failed = await host.run(['deploy', '--json'], { SWITCH: 'command', SWITCH_CMD: `cat ${keyFile}; exit 5` });
    expect(failed.exitCode, failed.output).toBe(1);
    expect(failed.output).toMatch(/SWITCH_CMD failed/);
    expect(failed.output).toContain('[REDACTED]');
    expect(leaks(failed.output)).toEqual([]);
    const shown = await host.run(['history', '--show', 'last']);
    expect(leaks(shown.output)).toEqual([]);
    expect(filesLeaking(path.join(host.deployRoot, 'deploys'))).toEqual([]);
    expect(leaks(readFileSync(path.join(host.deployRoot, 'state.json'), 'utf8'))).toEqual([]);
  }, 240_000);
});
