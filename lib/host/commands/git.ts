import path from 'node:path';

/**
 * git's argv, exact and pure (test/unit/commands.test.ts checks each word); lib/release/git.ts runs
 * them, always with cleanGitEnv(). A user-given revision always follows `--end-of-options` or `--`.
 */

const FETCH_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

export const gitArgv = {
  initMirror: (cacheDir: string) => ['git', 'init', '--bare', '--quiet', '--', cacheDir],
  // From REPO itself on every fetch, never a stored remote: a changed REPO (or rotated credentials) applies
  // at once, and no URL (nor token) is written into the mirror. `repo` here is without credentials
  // (lib/release/git-credentials.ts). No FETCH_HEAD either: it would record the URL. The mirror's
  // housekeeping a fetch would run before returning runs beside the next git commands instead (maintenance).
  fetch: (cacheDir: string, repo: string) =>
    ['git', '-C', cacheDir, 'fetch', '--quiet', '--prune', '--force', '--no-write-fetch-head', '--no-auto-maintenance', '--', repo, ...FETCH_REFSPECS],
  maintenance: (cacheDir: string) => ['git', '-C', cacheDir, 'maintenance', 'run', '--auto', '--quiet'],
  // --end-of-options: a revision such as `--upload-pack=x` or `-h` is looked up as a name, never read as an option.
  resolve: (cacheDir: string, revision: string) => ['git', '-C', cacheDir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`],
  sameNamedRefs: (cacheDir: string, name: string) =>
    ['git', '-C', cacheDir, 'for-each-ref', '--format=%(refname) %(objectname) %(*objectname)', '--', `refs/heads/${name}`, `refs/tags/${name}`],
  disambiguate: (cacheDir: string, prefix: string) => ['git', '-C', cacheDir, 'rev-parse', `--disambiguate=${prefix}`],
  objectType: (cacheDir: string, sha: string) => ['git', '-C', cacheDir, 'cat-file', '-t', sha],
  addWorktree: (cacheDir: string, slotDir: string, sha: string) => ['git', '-C', cacheDir, 'worktree', 'add', '--quiet', '--detach', '--force', slotDir, sha],
  pruneWorktrees: (cacheDir: string) => ['git', '-C', cacheDir, 'worktree', 'prune'],
  repairWorktrees: (cacheDir: string, slotDirs: string[]) => ['git', '-C', cacheDir, 'worktree', 'repair', ...slotDirs],
  removeOrigin: (cacheDir: string) => ['git', '-C', cacheDir, 'config', '--remove-section', 'remote.origin'],
  originUrl: (gitDir: string) => ['git', 'config', '--file', path.join(gitDir, 'config'), '--get', 'remote.origin.url'],
  checkout: (slotDir: string, sha: string) => ['git', '-C', slotDir, 'checkout', '--quiet', '--detach', '--force', sha, '--'],
  clean: (slotDir: string) => ['git', '-C', slotDir, 'clean', '-ffdxq'],
  headOf: (slotDir: string) => ['git', '-C', slotDir, 'rev-parse', 'HEAD'],
  lsRemote: (repo: string, refs: string[]) => ['git', 'ls-remote', '--', repo, ...refs],
  describeRepository: (dir: string) => ['git', '-C', dir, 'rev-parse', '--is-bare-repository', '--absolute-git-dir', '--git-path', 'hooks'],
};
