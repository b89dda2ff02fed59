import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { cleanGitEnv } from '../../lib/release/git.ts';
import { snapshotTree } from '../support/field-support.ts';

const IDENTITY = { GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };

describe('cleanGitEnv', () => {
  it('drops every variable that points git at another repository, keeps transport and identity', () => {
    const env = {
      PATH: '/usr/bin', HOME: '/home/x', GIT_DIR: '/x/.git', GIT_WORK_TREE: '/x', GIT_INDEX_FILE: '/x/i', GIT_OBJECT_DIRECTORY: '/o',
      GIT_ALTERNATE_OBJECT_DIRECTORIES: '/a', GIT_COMMON_DIR: '/c', GIT_NAMESPACE: 'n', GIT_CEILING_DIRECTORIES: '/', GIT_PREFIX: 'p/',
      GIT_QUARANTINE_PATH: '/q', GIT_CONFIG: '/cfg', GIT_CONFIG_GLOBAL: '/g', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.worktree',
      GIT_CONFIG_VALUE_0: '/x', GIT_CONFIG_PARAMETERS: "'core.bare'='false'", GIT_SSH_COMMAND: 'ssh -i key', GIT_AUTHOR_NAME: 'ana',
    };
    expect(cleanGitEnv(env)).toEqual({ PATH: '/usr/bin', HOME: '/home/x', GIT_SSH_COMMAND: 'ssh -i key', GIT_AUTHOR_NAME: 'ana' });
  });
});

/** A deploy run from a shell whose GIT_DIR/GIT_WORK_TREE name an unrelated clone (a git hook, a shell inside another repository). */
describe('git variables from the caller', () => {
  let host: TestHost;
  let clone: string;
  const git = (...args: string[]) => execFileSync('git', ['-C', clone, ...args], { encoding: 'utf8', env: { ...process.env, ...IDENTITY } }).trim();

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    clone = path.join(host.dir, 'unrelated');
    execFileSync('git', ['clone', '--quiet', host.example.repo, clone]);
    // What the old behaviour destroyed: a local branch, a local commit, untracked and ignored files.
    git('branch', 'keep-me');
    writeFileSync(path.join(clone, 'local.txt'), 'local work\n');
    git('add', 'local.txt');
    git('commit', '--quiet', '-m', 'local work');
    writeFileSync(path.join(clone, 'untracked.txt'), 'not added yet\n');
    appendFileSync(path.join(clone, '.git', 'info', 'exclude'), 'ignored.log\n');
    writeFileSync(path.join(clone, 'ignored.log'), 'ignored\n');
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('leave that clone byte-for-byte untouched and deploy the right commit', async () => {
    const before = snapshotTree(clone);
    const v1 = host.example.head();
    const first = await host.run(['deploy'], { GIT_DIR: path.join(clone, '.git'), GIT_WORK_TREE: clone, GIT_INDEX_FILE: path.join(clone, '.git', 'index') });
    expect(first.exitCode, first.output).toBe(0);
    const v2 = host.example.commit('v2');
    const second = await host.run(['deploy'], { GIT_DIR: path.join(clone, '.git'), GIT_WORK_TREE: clone, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'core.bare', GIT_CONFIG_VALUE_0: 'true' });
    expect(second.exitCode, second.output).toBe(0);
    expect(snapshotTree(clone)).toEqual(before);
    expect(host.state().slots.a.commit).toBe(v1);
    expect(host.state().slots.b.commit).toBe(v2);
    expect((await host.get('/')).json.version).toBe('v2');
    const status = await host.run(['status', '--repair'], { GIT_DIR: path.join(clone, '.git') });
    expect(status.exitCode, status.output).toBe(0);
    expect(snapshotTree(clone)).toEqual(before);
  }, 180_000);
});
