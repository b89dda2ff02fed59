import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { createDeployUser, type DeployUser } from '../../harness/sshd.ts';
import { checkOpenHook, findFolderChainProblems, openCheckedHook } from '../../lib/cycle/hook-file.ts';
import { runCommand } from '../../lib/host/run.ts';

function writeScript(file: string, body: string, mode = 0o755): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, mode);
}

describe('a hook runs what was checked', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'security-hookfile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the open file that was checked, even after another file is renamed over its path', async () => {
    const hook = path.join(dir, 'pre_start');
    writeScript(hook, 'echo checked');
    const opened = openCheckedHook(hook);
    try {
      writeScript(path.join(dir, 'swapped'), 'echo swapped-in');
      renameSync(path.join(dir, 'swapped'), hook);
      const lines: string[] = [];
      await runCommand([opened.path], { onLine: (line) => lines.push(line), env: process.env });
      expect(lines).toEqual(['checked']);
    } finally {
      opened.close();
    }
  });

  it('refuses an open file that is not a regular executable of the deploy user or root, or that others may write', () => {
    const file = { isFile: () => true, uid: 0, mode: 0o100755 };
    expect(checkOpenHook(file, 1000)).toBeUndefined();
    expect(checkOpenHook({ ...file, uid: 1000 }, 1000)).toBeUndefined();
    expect(checkOpenHook({ ...file, uid: 1234 }, 1000)).toMatch(/^belongs to /);
    expect(checkOpenHook({ ...file, mode: 0o100775 }, 1000)).toMatch(/writable by other users \(mode 0?775\)/);
    expect(checkOpenHook({ ...file, mode: 0o100644 }, 1000)).toBe('is not executable');
    expect(checkOpenHook({ ...file, isFile: () => false }, 1000)).toBe('is not a regular file');
  });

  it('names a folder above HOOKS_DIR that others may write; a sticky one like /tmp is fine', () => {
    const open = path.join(dir, 'open');
    mkdirSync(path.join(open, 'hooks'), { recursive: true });
    chmodSync(open, 0o777);
    expect(findFolderChainProblems(path.join(open, 'hooks'))).toEqual([expect.stringMatching(new RegExp(`^${open}, above HOOKS_DIR .* is writable by other users`))]);
    chmodSync(open, 0o1777);
    expect(findFolderChainProblems(path.join(open, 'hooks'))).toEqual([]);
  });
});

/**
 * The audit's case: the hooks folder's parent is writable by a second user, who swaps the folder as
 * soon as the first hook has run; the swapped-in pre_start must never run (it would run as the deploy
 * user, root here).
 */
describe('a hooks folder swapped by a second user between two hooks', () => {
  let host: TestHost;
  let other: DeployUser;
  let parent: string;
  let marks: string;
  const evilMark = () => path.join(marks, 'evil-ran');

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test creates a second user: run it as root (CI does)');
    other = createDeployUser(`sysec${randomBytes(3).toString('hex')}`);
    host = await createTestHost({ switchKind: 'nginx-live-file', env: { ...APP_WITHOUT_NPM } });
    marks = path.join(host.dir, 'marks');
    mkdirSync(marks, { mode: 0o777 });
    chmodSync(marks, 0o777);
    parent = path.join(host.dir, 'hookhome');
    mkdirSync(path.join(parent, 'hooks'), { recursive: true });
    writeScript(path.join(parent, 'hooks', 'begin'), `touch ${marks}/begin-ran\ni=0; while [ ! -e ${marks}/swapped ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done`);
    writeScript(path.join(parent, 'hooks', 'pre_start'), 'echo the checked pre_start');
    // The second user's folder, ready to be swapped in.
    mkdirSync(path.join(parent, 'evil'));
    writeScript(path.join(parent, 'evil', 'pre_start'), `id -u > ${evilMark()}`);
    chownSync(path.join(parent, 'evil'), other.uid, other.uid);
    chownSync(path.join(parent, 'evil', 'pre_start'), other.uid, other.uid);
    host.writeEnv({ HOOKS_DIR: path.join(parent, 'hooks') });
  }, 120_000);
  afterAll(async () => {
    await host?.cleanUp();
    other?.remove();
  }, 60_000);

  /** The second user waits for the first hook, then swaps the folder (as the audit did). */
  function startSwapper() {
    const script = `i=0; while [ ! -e ${marks}/begin-ran ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; mv ${parent}/hooks ${parent}/old && mv ${parent}/evil ${parent}/hooks; echo $? > ${marks}/swapped`;
    return execa('runuser', ['-u', other.name, '--', 'sh', '-c', script], { reject: false, all: true });
  }

  it('a parent folder the second user can write: the hooks are refused before any runs, saying which folder', async () => {
    chownSync(parent, other.uid, other.uid);
    const swapper = startSwapper();
    const result = await host.run(['deploy']);
    writeFileSync(path.join(marks, 'begin-ran'), ''); // lets the swapper end
    await swapper;
    expect(result.exitCode, result.output).not.toBe(0);
    expect(result.stderr).toContain(`${parent}, above HOOKS_DIR ${path.join(parent, 'hooks')}, belongs to ${other.name}`);
    expect(existsSync(evilMark())).toBe(false);
    // Put the folders back for the next case.
    if (existsSync(path.join(parent, 'old'))) {
      renameSync(path.join(parent, 'hooks'), path.join(parent, 'evil'));
      renameSync(path.join(parent, 'old'), path.join(parent, 'hooks'));
    }
    rmSync(path.join(marks, 'begin-ran'), { force: true });
    rmSync(path.join(marks, 'swapped'), { force: true });
  }, 240_000);

  it('a sticky parent any user can write (like /tmp): the swap fails, the checked hooks run, the swapped-in one never', async () => {
    chownSync(parent, 0, 0);
    chmodSync(parent, 0o1777);
    const swapper = startSwapper();
    const result = await host.run(['deploy']);
    const swapped = await swapper;
    expect(result.exitCode, result.output).toBe(0);
    expect(result.stdout).toContain('pre_start │ the checked pre_start');
    expect(swapped.all).toMatch(/Operation not permitted|Permission denied/);
    expect(existsSync(evilMark())).toBe(false);
  }, 240_000);
});
