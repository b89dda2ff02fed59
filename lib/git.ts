import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SwitchyardError } from './errors.ts';
import { paths } from './paths.ts';
import { capture, runCommand, type RunOptions } from './run.ts';

/** argv builders are pure and exact (tested); the functions below run them. */

const FETCH_REFSPECS = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];

export const gitArgv = {
  cloneCache: (repo: string, cacheDir: string) => ['git', 'clone', '--bare', '--quiet', '--', repo, cacheDir],
  fetch: (cacheDir: string) => ['git', '-C', cacheDir, 'fetch', '--quiet', '--prune', '--force', 'origin', ...FETCH_REFSPECS],
  // --end-of-options: a revision such as `--upload-pack=x` or `-h` is looked up as a name, never read as an option.
  resolve: (cacheDir: string, revision: string) => ['git', '-C', cacheDir, 'rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`],
  addWorktree: (cacheDir: string, slotDir: string, sha: string) => ['git', '-C', cacheDir, 'worktree', 'add', '--quiet', '--detach', '--force', slotDir, sha],
  pruneWorktrees: (cacheDir: string) => ['git', '-C', cacheDir, 'worktree', 'prune'],
  checkout: (slotDir: string, sha: string) => ['git', '-C', slotDir, 'checkout', '--quiet', '--detach', '--force', sha, '--'],
  clean: (slotDir: string) => ['git', '-C', slotDir, 'clean', '-ffdxq'],
  headOf: (slotDir: string) => ['git', '-C', slotDir, 'rev-parse', 'HEAD'],
};

/** A revision an operator typed: refuse what cannot be a revision before git sees it. */
export function checkRevision(revision: string): string | undefined {
  if (revision.length === 0) return 'the commit is empty';
  if (revision.length > 256) return 'the commit is longer than 256 characters';
  if (revision.startsWith('-')) return `${JSON.stringify(revision)} looks like an option, not a commit`;
  if (/[\0-\x1f\x7f]/.test(revision)) return 'the commit contains control characters';
  return undefined;
}

export function cacheDir(deployRoot: string): string {
  return paths.mirror(deployRoot);
}

/** Make the local mirror exist and fetch the newest refs into it. */
export async function fetchRepo(repo: string, cache: string, options: RunOptions = {}): Promise<void> {
  if (!existsSync(path.join(cache, 'HEAD'))) {
    rmSync(cache, { recursive: true, force: true });
    await runCommand(gitArgv.cloneCache(repo, cache), options);
  }
  await runCommand(gitArgv.fetch(cache), options);
}

/** Full SHA of a commit, tag or branch; a clear error when it does not exist. */
export async function resolveCommit(cache: string, revision: string): Promise<string> {
  const problem = checkRevision(revision);
  if (problem) throw new SwitchyardError(`cannot deploy ${JSON.stringify(revision)}: ${problem}`, { untouched: 'no slot was touched' });
  try {
    const sha = await capture(gitArgv.resolve(cache, revision));
    if (/^[0-9a-f]{40,64}$/.test(sha)) return sha;
  } catch {
    // Falls through to the one clear message below.
  }
  throw new SwitchyardError(`commit ${JSON.stringify(revision)} does not exist in the repository`, {
    untouched: 'no slot was touched',
    next: 'check the commit, tag or branch name (it was looked up after a fetch)',
  });
}


/** Put exactly `sha` in the slot folder: a detached worktree of the mirror, cleaned of every untracked file. */
export async function checkoutSlot(cache: string, slotDir: string, sha: string, options: RunOptions = {}): Promise<void> {
  if (existsSync(path.join(slotDir, '.git'))) {
    try {
      await runCommand(gitArgv.checkout(slotDir, sha), options);
      await runCommand(gitArgv.clean(slotDir), options);
      return;
    } catch {
      // A damaged worktree (e.g. a deploy killed mid-checkout): start the folder again below.
    }
  }
  rmSync(slotDir, { recursive: true, force: true });
  await runCommand(gitArgv.pruneWorktrees(cache), options);
  await runCommand(gitArgv.addWorktree(cache, slotDir, sha), options);
}
