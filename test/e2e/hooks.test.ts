import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, createTestHost, type TestHost } from '../../harness/host.ts';
import { checkHooks, findHookProblems, HOOK_NAMES } from '../../lib/cycle/hooks.ts';

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
    host = await createTestHost({ env: APP_WITHOUT_NPM });
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
    expect(running).toContain(`cmd=deploy slot=b port=${host.ports.b} commit=${v2} prev=${v1} dir=${host.deployRoot}/releases/${v2}`);
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
    copyFileSync(new URL('../../templates/hooks/package.json', import.meta.url), path.join(hooksDir, 'package.json'));
    rmSync(path.join(hooksDir, 'end'));
    writeFileSync(path.join(hooksDir, 'end.ts'), "const slot: string = process.env.SWITCHYARD_SLOT ?? '';\nconst out = await $`echo zx says ${slot}`;\nconsole.log(out.stdout.trim());\n");
    const result = await host.run(['rollback']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toContain('end │ zx says b');
  }, 120_000);
});

describe('findHookProblems: hooks are checked before anything runs', () => {
  const make = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-hooks-'));
    chmodSync(dir, 0o755);
    return dir;
  };
  const hook = (dir: string, name: string, mode = 0o755) => {
    writeFileSync(path.join(dir, name), '#!/bin/sh\ntrue\n');
    chmodSync(path.join(dir, name), mode);
  };

  it('finds nothing wrong with no folder, an empty folder, or private executable hooks', () => {
    expect(findHookProblems('/nonexistent/hooks')).toEqual([]);
    const dir = make();
    expect(findHookProblems(dir)).toEqual([]);
    hook(dir, 'begin');
    writeFileSync(path.join(dir, 'end.ts'), 'console.log(1)\n', { mode: 0o644 });
    writeFileSync(path.join(dir, 'package.json'), '{}', { mode: 0o666 });
    expect(findHookProblems(dir)).toEqual([]);
  });

  it('names a dangling symlink, a hook that is not executable, and what to do', () => {
    const dir = make();
    symlinkSync('/nonexistent/migrate', path.join(dir, 'post_install'));
    hook(dir, 'running', 0o644);
    expect(findHookProblems(dir)).toEqual([
      `hook ${dir}/post_install is a dangling symlink (to /nonexistent/migrate; fix: point it at the hook or remove it)`,
      `hook ${dir}/running is not executable (fix: chmod +x ${dir}/running)`,
    ]);
    expect(() => checkHooks(dir)).toThrow(new RegExp(`^hooks in ${dir} will not be run: hook .*post_install is a dangling symlink`));
  });

  it('refuses what another user could have written: a folder or hook writable by others, a hook of another user', () => {
    const dir = make();
    hook(dir, 'begin', 0o757);
    chmodSync(dir, 0o777);
    const me = os.userInfo().username;
    expect(findHookProblems(dir)).toEqual([
      `HOOKS_DIR ${dir} is writable by other users (mode 0777; fix: chmod go-w ${dir})`,
      `hook ${dir}/begin is writable by other users (mode 0757; fix: chmod go-w ${dir}/begin)`,
    ]);
    chmodSync(dir, 0o755);
    chmodSync(path.join(dir, 'begin'), 0o755);
    if (process.getuid?.() === 0) {
      chownSync(path.join(dir, 'begin'), 65534, 65534);
      expect(findHookProblems(dir)).toEqual([`hook ${dir}/begin belongs to nobody (fix: check it, then chown ${me} ${dir}/begin)`]);
      // The same hook owned by someone else is fine for that user (or for root, when root owns it).
      expect(findHookProblems(dir, 65534)).toEqual([]);
    }
  });
});

describe('unsafe hooks stop a deploy before anything changes', () => {
  let host: TestHost;
  let hooksDir: string;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    hooksDir = path.join(host.dir, 'deploy', 'hooks');
    mkdirSync(hooksDir, { recursive: true });
    host.example.commit('v2');
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  async function expectRefusedBeforeCheckout(pattern: RegExp, marker: string) {
    const before = host.state().slots;
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(1);
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(pattern);
    expect(result.stdout).not.toMatch(/fetch|checkout|install/);
    expect(host.state().slots).toEqual(before);
    expect(existsSync(marker)).toBe(false);
    expect((await host.get('/')).json.version).toBe('v1');
  }

  it('a dangling post_install symlink is reported before the checkout, and no hook runs', async () => {
    const marker = path.join(host.dir, 'begin-ran');
    writeFileSync(path.join(hooksDir, 'begin'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    symlinkSync(path.join(host.dir, 'missing-migrate'), path.join(hooksDir, 'post_install'));
    await expectRefusedBeforeCheckout(/^error: deploy failed: hooks in .* will not be run: hook .*post_install is a dangling symlink .*; slot a \([0-9a-f]{7}\) is still live and serving; nothing was changed; apply the fixes named above/, marker);
    rmSync(path.join(hooksDir, 'post_install'));
  }, 60_000);

  it('a HOOKS_DIR other users can write is refused, saying how to fix it', async () => {
    const marker = path.join(host.dir, 'begin-ran');
    chmodSync(hooksDir, 0o777);
    await expectRefusedBeforeCheckout(new RegExp(`HOOKS_DIR ${hooksDir} is writable by other users \\(mode 0777; fix: chmod go-w ${hooksDir}\\)`), marker);
    chmodSync(hooksDir, 0o755);
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect(existsSync(marker)).toBe(true);
  }, 120_000);
});
