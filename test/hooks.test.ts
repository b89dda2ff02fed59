import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../harness/host.ts';
import { HOOK_NAMES } from '../lib/hooks.ts';

/** Hooks run in substitute's order with the deploy's facts; before the switch a failure aborts, after it one is reported. */
describe('hooks', () => {
  let host: TestHost;
  let hooksDir: string;
  let record: string;
  const lines = () => readFileSync(record, 'utf8').trim().split('\n');
  const writeHook = (name: string, body: string) => {
    const file = path.join(hooksDir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  };

  beforeAll(async () => {
    host = await createTestHost();
    hooksDir = path.join(host.dir, 'deploy', 'hooks');
    mkdirSync(hooksDir, { recursive: true });
    record = path.join(host.dir, 'hooks.log');
    for (const name of HOOK_NAMES) {
      writeHook(name, `echo "$SWITCHYARD_HOOK cmd=$SWITCHYARD_COMMAND slot=$SWITCHYARD_SLOT port=$SWITCHYARD_PORT commit=$SWITCHYARD_COMMIT prev=$SWITCHYARD_PREVIOUS_COMMIT dir=$SWITCHYARD_APP_DIR reason=$SWITCHYARD_REASON" >> ${record}\necho "output of ${name}"`);
    }
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('runs every hook point in order with the facts as SWITCHYARD_* variables, output streamed with a prefix', async () => {
    const v1 = host.example.head();
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    const v2 = host.example.commit('v2');
    rmSync(record);
    const second = await host.run(['deploy']);
    expect(second.exitCode, second.output).toBe(0);
    expect(second.stdout).toContain('post_start │ output of post_start');
    expect(lines().map((line) => line.split(' ')[0])).toEqual(['begin', 'pre_checkout', 'pre_install', 'post_install', 'pre_start', 'post_start', 'running', 'pre_stop', 'post_stop', 'end']);
    const running = lines().find((line) => line.startsWith('running '))!;
    expect(running).toContain(`cmd=deploy slot=b port=${host.ports.b} commit=${v2} prev=${v1} dir=${host.deployRoot}/slots/b`);
  }, 120_000);

  it('a hook that fails before the switch aborts the deploy cleanly and runs the failed hook with the reason', async () => {
    host.example.commit('v3');
    writeHook('pre_start', 'echo "cannot start: maintenance window"; exit 4');
    rmSync(record);
    const result = await host.run(['deploy']);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/error: deploy failed: hook pre_start failed: .*exit code 4.*slot b \([0-9a-f]{7}\) is still live/);
    expect((await host.get('/')).json.version).toBe('v2');
    const failed = lines().find((line) => line.startsWith('failed '));
    expect(failed).toMatch(/reason=hook pre_start failed/);
    expect(lines().map((line) => line.split(' ')[0])).not.toContain('running');
  }, 120_000);

  it('a hook that fails after the switch is reported and does not undo it', async () => {
    writeHook('pre_start', 'true');
    writeHook('post_stop', 'echo "chat webhook down"; exit 1');
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stderr).toMatch(/warning: hook post_stop failed after the switch \(the switch stands\)/);
    expect((await host.get('/')).json.version).toBe('v3');
  }, 120_000);

  it('runs a .ts hook with zx', async () => {
    writeHook('post_stop', 'true');
    copyFileSync(new URL('../templates/hooks/package.json', import.meta.url), path.join(hooksDir, 'package.json'));
    rmSync(path.join(hooksDir, 'end'));
    writeFileSync(path.join(hooksDir, 'end.ts'), "const slot: string = process.env.SWITCHYARD_SLOT ?? '';\nconst out = await $`echo zx says ${slot}`;\nconsole.log(out.stdout.trim());\n");
    const result = await host.run(['rollback']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toContain('end │ zx says b');
  }, 120_000);
});
