import { execFileSync } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE = fileURLToPath(new URL('../templates/example-app', import.meta.url));

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' },
  }).trim();
}

/** A real git repository holding templates/example-app exactly as it is, at v1. */
export function createExampleRepo(dir: string): {
  repo: string;
  commit: (version: string, change?: (repo: string) => void) => string;
  head: () => string;
} {
  cpSync(TEMPLATE, dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  const commit = (version: string, change?: (repo: string) => void) => {
    writeFileSync(path.join(dir, 'VERSION'), `${version}\n`);
    change?.(dir);
    git(dir, 'add', '--all');
    git(dir, 'commit', '--quiet', '--allow-empty', '-m', `example app ${version}`);
    return git(dir, 'rev-parse', 'HEAD');
  };
  commit('v1');
  return { repo: dir, commit, head: () => git(dir, 'rev-parse', 'HEAD') };
}
