import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { createDeployUser, type DeployUser } from '../../harness/sshd.ts';

/** `releases/` a symlink to a folder every user may read (0755): each release folder in it is still 0700, its code unreadable by a second user. */
describe('release folders are private whatever releases/ resolves to', () => {
  let host: TestHost;
  let other: DeployUser;
  let elsewhere: string;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test creates a second user: run it as root (CI does)');
    other = createDeployUser(`sysec${randomBytes(3).toString('hex')}r`);
    host = await createTestHost({ switchKind: 'nginx-live-file', env: { ...APP_WITHOUT_NPM } });
    elsewhere = path.join(host.dir, 'big-disk', 'releases');
    mkdirSync(elsewhere, { recursive: true });
    chmodSync(path.join(host.dir, 'big-disk'), 0o755);
    chmodSync(elsewhere, 0o755);
    symlinkSync(elsewhere, path.join(host.deployRoot, 'releases'));
  }, 120_000);
  afterAll(async () => {
    await host?.cleanUp();
    other?.remove();
  }, 60_000);

  it('a deploy and a second one: every release folder is 0700 and a second user reads none of its files', async () => {
    for (const version of ['v1', 'v2']) {
      if (version === 'v2') host.example.commit('v2');
      const deployed = await host.run(['deploy']);
      expect(deployed.exitCode, deployed.output).toBe(0);
    }
    const releases = readdirSync(elsewhere).filter((name) => /^[0-9a-f]{40}$/.test(name));
    expect(releases).toHaveLength(2);
    for (const release of releases) {
      const folder = path.join(elsewhere, release);
      expect((statSync(folder).mode & 0o777).toString(8)).toBe('700');
      const read = await execa('runuser', ['-u', other.name, '--', 'cat', path.join(folder, 'server.js')], { reject: false, all: true });
      expect(read.exitCode).not.toBe(0);
      expect(read.all).toMatch(/Permission denied/);
      const list = await execa('runuser', ['-u', other.name, '--', 'ls', folder], { reject: false, all: true });
      expect(list.exitCode).not.toBe(0);
    }
  }, 240_000);
});
