import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchRepo, knownCommit, resolveCommit } from '../../lib/release/git.ts';
import { gitArgv } from '../../lib/host/commands/git.ts';

const IDENTITY = { GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };

describe('gitArgv (exact)', () => {
  it('fetches from the URL given, into branches and tags, writing no FETCH_HEAD', () => {
    expect(gitArgv.fetch('/r/.switchyard/mirror.git', 'https://h/app.git')).toEqual([
      'git', '-C', '/r/.switchyard/mirror.git', 'fetch', '--quiet', '--prune', '--force', '--no-write-fetch-head', '--no-auto-maintenance', '--', 'https://h/app.git', '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*',
    ]);
    expect(gitArgv.initMirror('/r/m.git')).toEqual(['git', 'init', '--bare', '--quiet', '--', '/r/m.git']);
    expect(gitArgv.resolve('/m', '-h')).toEqual(['git', '-C', '/m', 'rev-parse', '--verify', '--quiet', '--end-of-options', '-h^{commit}']);
  });
});

/** A repository of its own in a temp folder, `git` run in it, and where a deploy root's mirror of it goes. */
function scratchRepo(prefix: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const repo = path.join(dir, 'repo');
  execFileSync('git', ['init', '--quiet', '--initial-branch=main', repo]);
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, ...IDENTITY } }).trim();
  return { dir, repo, mirror: path.join(dir, 'root', '.switchyard', 'mirror.git'), git };
}

/** Names that mean more than one commit: say what is ambiguous instead of guessing or saying "does not exist". */
describe('resolveCommit with ambiguous names (real git)', () => {
  let dir: string;
  let repo: string;
  let mirror: string;
  let git: (...args: string[]) => string;

  beforeAll(async () => {
    ({ dir, repo, mirror, git } = scratchRepo('switchyard-ambiguous-'));
    // 1500 commits in one fast-import: two of them surely share their first 4 hex digits.
    const stream = Array.from({ length: 1500 }, (_, index) =>
      [`commit refs/heads/main`, `committer test <test@example.invalid> ${1_700_000_000 + index} +0000`, `data <<EOM`, `commit ${index}`, `EOM`, ''].join('\n'),
    ).join('\n');
    execFileSync('git', ['-C', repo, 'fast-import', '--quiet'], { input: stream });
    git('tag', 'release', 'main~10');
    git('branch', 'release', 'main~20');
    git('tag', 'same', 'main~5');
    git('branch', 'same', 'main~5');
    await fetchRepo(repo, mirror, { env: process.env });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a tag and a branch of the same name on different commits: names both and says how to choose', async () => {
    const branch = git('rev-parse', 'refs/heads/release');
    const tag = git('rev-parse', 'refs/tags/release');
    await expect(resolveCommit(mirror, 'release', process.env)).rejects.toMatchObject({
      message: `"release" is ambiguous: it is both a branch (at ${branch.slice(0, 7)}) and a tag (at ${tag.slice(0, 7)})`,
      next: 'deploy refs/heads/release or refs/tags/release to say which',
    });
    expect(await resolveCommit(mirror, 'refs/heads/release', process.env)).toBe(branch);
    expect(await resolveCommit(mirror, 'refs/tags/release', process.env)).toBe(tag);
    // Both on the same commit: nothing to choose between.
    expect(await resolveCommit(mirror, 'same', process.env)).toBe(git('rev-parse', 'main~5'));
  });

  it('an abbreviated SHA shared by two commits: says so and lists them, instead of "does not exist"', async () => {
    const commits = git('rev-list', 'main').split('\n');
    const byPrefix = new Map<string, string[]>();
    for (const sha of commits) byPrefix.set(sha.slice(0, 4), [...(byPrefix.get(sha.slice(0, 4)) ?? []), sha]);
    const [prefix, shared] = [...byPrefix].find(([, list]) => list.length >= 2)!;
    await expect(resolveCommit(mirror, prefix, process.env)).rejects.toMatchObject({
      message: expect.stringMatching(new RegExp(`^commit "${prefix}" is ambiguous: ${shared.length} commits start with it \\(.*\\)$`)),
      next: 'give more characters of the SHA',
    });
    const message = await resolveCommit(mirror, prefix, process.env).catch((error: Error) => error.message);
    for (const sha of shared) expect(message).toContain(sha.slice(0, 12));
    expect(await resolveCommit(mirror, shared[0].slice(0, 12), process.env)).toBe(shared[0]);
    await expect(resolveCommit(mirror, 'ffff0000ffff', process.env)).rejects.toThrow(/commit "ffff0000ffff" does not exist in the repository/);
  });
});

/** A full SHA the mirror already has is resolved without a fetch (the fleet's resolve of a redeploy); anything else is not. */
describe('knownCommit (real git)', () => {
  let dir: string;
  let repo: string;
  let mirror: string;
  let git: (...args: string[]) => string;

  beforeAll(() => {
    ({ dir, repo, mirror, git } = scratchRepo('switchyard-known-'));
    git('commit', '--quiet', '--allow-empty', '-m', 'one');
    git('tag', '-a', '-m', 'annotated', 'v1');
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('knows a full SHA once fetched; never a name, an abbreviation, a tag object, or a commit not fetched yet', async () => {
    const first = git('rev-parse', 'main');
    expect(await knownCommit(mirror, first, process.env)).toBeUndefined();
    await fetchRepo(repo, mirror, { env: process.env });
    expect(await knownCommit(mirror, first, process.env)).toBe(first);
    for (const name of ['main', 'v1', first.slice(0, 12), git('rev-parse', 'refs/tags/v1')]) {
      expect(await knownCommit(mirror, name, process.env), name).toBeUndefined();
    }
    git('commit', '--quiet', '--allow-empty', '-m', 'two');
    expect(await knownCommit(mirror, git('rev-parse', 'main'), process.env)).toBeUndefined();
  });
});
