import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, type TestHost } from '../../harness/host.ts';
import { waitFor } from '../../harness/wait.ts';

/** `stop` of the slot a running deploy is bringing up: refused, whatever the flags, and the deploy finishes. */
describe('stop during a deploy', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file' });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  async function pausedDeploy(phase: string) {
    const pauseFile = path.join(host.dir, `pause-${phase}`);
    let output = '';
    const deploy = host.run(['deploy'], { SWITCHYARD_TEST_FAULT: `pause@${phase}`, SWITCHYARD_TEST_PAUSE_FILE: pauseFile }).then((result) => {
      output = result.output;
      return result;
    });
    await waitFor(`the deploy to reach its ${phase} phase`, () => existsSync(`${pauseFile}.reached`), { timeoutMs: 60_000, output: () => output });
    return { deploy, go: () => writeFileSync(pauseFile, 'go') };
  }

  it('of the incoming slot (named by the journal) is refused with one line, even with --force', async () => {
    host.example.commit('v2');
    const { deploy, go } = await pausedDeploy('health');
    try {
      for (const args of [['stop', 'exampleapp-b'], ['stop', 'exampleapp-b', '--force']]) {
        const result = await host.run(args);
        expect(result.exitCode, result.output).toBe(1);
        expect(result.stderr.split('\n').filter((line) => line.startsWith('error: '))).toEqual([
          expect.stringMatching(/^error: exampleapp-b is slot b, which the running deploy \(pid \d+, user \S+, started \S+, in its "health" phase\) is using \(its target\); it was left running; wait for the deploy to finish \(or interrupt it: kill -INT \d+\), then run this again; --force does not override this$/),
        ]);
      }
    } finally {
      go();
    }
    const result = await deploy;
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json).toMatchObject({ version: 'v2', slot: 'b' });
  }, 120_000);

  it('before the deploy has chosen a slot, either slot is refused', async () => {
    host.example.commit('v3');
    const { deploy, go } = await pausedDeploy('locked');
    try {
      const result = await host.run(['stop', 'exampleapp-a', '--force']);
      expect(result.exitCode, result.output).toBe(1);
      expect(result.stderr).toMatch(/error: exampleapp-a is slot a, which the running deploy \(pid \d+, user \S+, started \S+\) is using \(it may pick either slot\); it was left running/);
    } finally {
      go();
    }
    const result = await deploy;
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json).toMatchObject({ version: 'v3', slot: 'a' });
  }, 120_000);

  it('of the old slot while the deploy drains it is refused, and the request in flight there finishes', async () => {
    // The live slot is a (v3): a request in flight on it, half sent, as the next deploy switches away from it.
    const socket = net.connect(host.ports.a, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    socket.write('GET /slow?ms=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n');
    host.example.commit('v4');
    const { deploy, go } = await pausedDeploy('drain');
    try {
      const result = await host.run(['stop', 'exampleapp-a']);
      expect(result.exitCode, result.output).toBe(1);
      expect(result.stderr).toMatch(/error: exampleapp-a is slot a, which the running deploy \(pid \d+, user \S+, started \S+, in its "drain" phase\) is using \(the slot it switches away from and drains\); it was left running/);
      socket.write('\r\n');
      await waitFor('the answer to the request in flight', () => answer.includes('\r\n\r\n') || socket.destroyed, { timeoutMs: 30_000 });
      expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
      go();
    }
    const result = await deploy;
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json).toMatchObject({ version: 'v4', slot: 'b' });
  }, 120_000);

  it('with no deploy running, the idle slot stops as before', async () => {
    const result = await host.run(['stop', 'exampleapp-a']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toMatch(/exampleapp-a is not running; nothing to stop/);
  }, 60_000);
});
