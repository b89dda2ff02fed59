import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { prepareDeployRoot } from '../../lib/host/deploy-root.ts';
import { resolveConfig } from '../../lib/config/config.ts';
import { waitFor } from '../../harness/wait.ts';

/** What runs before the deploy lock must not trip over the files the lock's holder is writing. */
describe('the work before the lock, while another deploy writes its state', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-defects-b-burst-'));
  let writer: ChildProcess | undefined;
  afterAll(() => {
    writer?.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('prepareDeployRoot ignores a temp file that is renamed away while it looks at the folder', async () => {
    const config = resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: root }, env: {}, envFile: path.join(root, '.env') });
    prepareDeployRoot(config);
    // A real process writing state the way the state store (lib/record/store.ts) does (temp file, fsync, rename), as fast as it can.
    const script = `const fs = require('fs'); const dir = ${JSON.stringify(root)}; let n = 0; fs.writeFileSync(dir + '/started', ''); for (;;) { const temp = dir + '/.state.json.' + process.pid + '.' + n++ + '.tmp'; const fd = fs.openSync(temp, 'wx', 0o600); fs.writeSync(fd, '{}'); fs.fsyncSync(fd); fs.closeSync(fd); fs.renameSync(temp, dir + '/state.json'); }`;
    writer = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    await waitFor('the state writer to start', () => existsSync(path.join(root, 'started')), { timeoutMs: 30_000 });
    const failures: string[] = [];
    for (let round = 0; round < 300; round++) {
      try {
        prepareDeployRoot(config);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    expect(failures.slice(0, 3), `${failures.length} of 300 failed`).toEqual([]);
  }, 120_000);
});

describe('a burst of deploys through ./deploy.ts', () => {
  let host: TestHost;
  afterAll(async () => host?.cleanUp(), 60_000);

  it('every deploy that does not get the lock exits 75 (never 1 with ENOENT)', async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    host.example.commit('v2');
    const results = await Promise.all(Array.from({ length: 4 }, () => host.run(['deploy'])));
    const codes = results.map((result) => result.exitCode);
    expect(codes.filter((code) => code === 0).length, results.map((result) => result.output).join('\n---\n')).toBeGreaterThanOrEqual(1);
    expect(results.filter((result) => result.exitCode !== 0 && result.exitCode !== 75).map((result) => result.output)).toEqual([]);
    expect((await host.get('/')).json.version).toBe('v2');
  }, 240_000);

  it("the temp file of a state write killed by SIGKILL is removed by the next deploy; a live writer's is kept", async () => {
    // Real writers, as writeFileAtomic names them: one is killed with its temp file written, one keeps running.
    const write = (label: string) => spawn(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(host.deployRoot)} + '/.state.json.' + process.pid + '.1.tmp', '{'); console.log('${label}'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const killed = write('killed');
    const alive = write('alive');
    try {
      for (const child of [killed, alive]) await new Promise((resolve) => child.stdout!.once('data', resolve));
      killed.kill('SIGKILL');
      await new Promise((resolve) => killed.once('exit', resolve));
      const deployed = await host.run(['deploy']);
      expect(deployed.exitCode, deployed.output).toBe(0);
      expect(existsSync(path.join(host.deployRoot, `.state.json.${killed.pid}.1.tmp`))).toBe(false);
      expect(existsSync(path.join(host.deployRoot, `.state.json.${alive.pid}.1.tmp`))).toBe(true);
    } finally {
      alive.kill('SIGKILL');
      rmSync(path.join(host.deployRoot, `.state.json.${alive.pid}.1.tmp`), { force: true });
    }
  }, 120_000);

  it('status --repair after the state file was deleted rebuilds the releases from releases/, so a rollback to one of them still works', async () => {
    const before = host.state();
    const live = before.slots[before.live].commit;
    const kept = Object.keys(before.releases).sort();
    expect(kept.length).toBeGreaterThanOrEqual(2);
    rmSync(path.join(host.deployRoot, 'state.json'));
    const repaired = await host.run(['status', '--repair']);
    expect(repaired.exitCode, repaired.output).toBe(0);
    expect(Object.keys(host.state().releases).sort()).toEqual(kept);
    expect(host.state().slots[host.state().live].commit).toBe(live);
    // The history went with the state file: a plain rollback has no "previous" to go to; a named kept release works.
    const previous = kept.find((commit) => commit !== live)!;
    const rolled = await host.run(['rollback', previous.slice(0, 12)]);
    expect(rolled.exitCode, rolled.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('v1');
  }, 180_000);

  it('restart with the live release deleted by hand says so in one line, with a next step that is not what was just run', async () => {
    const state = host.state();
    const live = state.slots[state.live].commit;
    rmSync(path.join(host.deployRoot, 'releases', live), { recursive: true, force: true });
    const result = await host.run(['restart']);
    expect(result.exitCode, result.output).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).not.toMatch(/restart failed: restart failed|ENOENT/);
    expect(errors[0]).toContain(`the live release's folder`);
    expect(errors[0]).toContain(`./deploy.ts deploy ${live.slice(0, 7)}`);
    expect((await host.get('/')).status).toBe(200);
  }, 120_000);
});
