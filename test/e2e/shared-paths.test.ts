import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { linkSharedPaths } from '../../lib/release/shared-paths.ts';

/** linkSharedPaths on real git checkouts: the links, the shared copies, and commits that hold a shared path. */
describe('linkSharedPaths', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-shared-'));
  const root = path.join(dir, 'root');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' } });
  const config = (sharedPaths: string) => resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: root, SHARED_PATHS: sharedPaths }, env: {}, envFile: path.join(dir, '.env') });

  /** A fresh checkout of a repo holding `files`. */
  function checkout(name: string, files: Record<string, string>): string {
    const repo = path.join(dir, `${name}-repo`);
    mkdirSync(repo);
    git(repo, 'init', '--quiet', '--initial-branch=main');
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
      writeFileSync(path.join(repo, file), text);
    }
    git(repo, 'add', '--all');
    git(repo, 'commit', '--quiet', '-m', name);
    const build = path.join(dir, name);
    git(dir, 'clone', '--quiet', repo, build);
    return build;
  }

  it('links each path to DEPLOY_ROOT/shared, creating a folder or an empty 0600 file the first time; a second build shares them', () => {
    const cfg = config('.env uploads/ storage/app/ config/local.json');
    const first = checkout('first', { 'server.js': '', 'storage/keep.txt': 'tracked' });
    expect(linkSharedPaths(cfg, first)).toEqual([
      `.env → ${root}/shared/.env (created empty)`,
      `uploads/ → ${root}/shared/uploads (created empty)`,
      `storage/app/ → ${root}/shared/storage/app (created empty)`,
      `config/local.json → ${root}/shared/config/local.json (created empty)`,
    ]);
    expect(readlinkSync(path.join(first, '.env'))).toBe(path.join(root, 'shared', '.env'));
    expect(statSync(path.join(root, 'shared', '.env')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(root, 'shared', 'uploads')).isDirectory()).toBe(true);
    expect(readFileSync(path.join(first, 'storage', 'keep.txt'), 'utf8')).toBe('tracked');
    writeFileSync(path.join(first, 'uploads', 'cat.png'), 'meow');
    writeFileSync(path.join(first, '.env'), 'A=1\n');

    const second = checkout('second', { 'server.js': '// v2' });
    expect(linkSharedPaths(cfg, second)[0]).toBe(`.env → ${root}/shared/.env`);
    expect(readFileSync(path.join(second, 'uploads', 'cat.png'), 'utf8')).toBe('meow');
    expect(readFileSync(path.join(second, '.env'), 'utf8')).toBe('A=1\n');
    // Again on the same build (a kept release): nothing changes, nothing fails.
    expect(linkSharedPaths(cfg, second)).toHaveLength(4);
    expect(git(second, 'status', '--porcelain', '--ignored').trim().split('\n').sort()).toEqual(['?? .env', '?? config/', '?? storage/', '?? uploads'].sort());
  });

  it('refuses a commit that holds a shared path, naming each, and links nothing', () => {
    const cfg = config('.env uploads/ config/local.json');
    const build = checkout('committed', { '.env': 'FROM_GIT=1\n', 'uploads/readme.txt': 'x', 'server.js': '' });
    expect(() => linkSharedPaths(cfg, build)).toThrow(/^SHARED_PATHS "\.env", "uploads\/" exist in the commit itself \(.*\/committed\/\.env\), so it cannot be linked/);
    try {
      linkSharedPaths(cfg, build);
    } catch (error) {
      expect((error as Error & { next?: string }).next).toMatch(/git rm -r --cached \.env uploads/);
    }
    expect(readFileSync(path.join(build, '.env'), 'utf8')).toBe('FROM_GIT=1\n');
    expect(() => lstatSync(path.join(build, 'config', 'local.json'))).toThrow();
  });

  it('refuses a shared path whose kind differs (a file listed as a folder) and a folder that leads out of the build', () => {
    const build = checkout('kinds', { 'server.js': '' });
    mkdirSync(path.join(root, 'shared', 'logs'), { recursive: true });
    expect(() => linkSharedPaths(config('logs'), build)).toThrow(/shared\/logs is a folder but SHARED_PATHS lists logs \(a file; add \/ for a folder\)/);
    const escape = checkout('escape', { 'server.js': '' });
    execFileSync('ln', ['-s', dir, path.join(escape, 'out')]);
    expect(() => linkSharedPaths(config('out/data/'), escape)).toThrow(/leads outside it/);
  });

  it('refuses a path two or more levels below a committed symlink that leads out, and creates nothing outside', () => {
    const outside = path.join(dir, 'outside');
    mkdirSync(outside);
    const build = checkout('deep', { 'server.js': '' });
    execFileSync('ln', ['-s', outside, path.join(build, 'out')]);
    execFileSync('ln', ['-s', path.join(dir, 'nowhere'), path.join(build, 'gone')]);
    for (const entry of ['out/a/b/', 'out/a/b/c.json', 'out/a/b/c/d/']) {
      expect(() => linkSharedPaths(config(entry), build)).toThrow(new RegExp(`the folder of ${entry.replace(/\/$/, '').replace(/[.]/g, '\\.')} in the build \\(${build}/out\\) leads outside it`));
    }
    expect(() => linkSharedPaths(config('gone/x/y/'), build)).toThrow(/is a link that leads nowhere/);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
  });
});
