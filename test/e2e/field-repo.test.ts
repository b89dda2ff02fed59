import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { APP_WITHOUT_NPM, createDeployedTestHost, createTestHost, type TestHost } from '../../harness/host.ts';
import { paths } from '../../lib/host/paths.ts';
import { filesContaining } from '../support/field-support.ts';

const IDENTITY = { GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };
const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', env: { ...process.env, ...IDENTITY } }).trim();

describe('the mirror follows REPO', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('lives where no operator puts a repository, and stores no remote', () => {
    const mirror = paths.mirror(host.deployRoot);
    expect(mirror).toBe(path.join(host.deployRoot, '.switchyard', 'mirror.git'));
    expect(existsSync(path.join(mirror, 'HEAD'))).toBe(true);
    expect(readFileSync(path.join(mirror, 'config'), 'utf8')).not.toMatch(/remote|url/);
    expect(existsSync(path.join(host.deployRoot, 'repo.git'))).toBe(false);
  });

  it('a changed REPO is fetched from at the next deploy', async () => {
    const other = createExampleRepo(path.join(host.dir, 'other-repo'));
    const commit = other.commit('from-the-other-repo');
    host.writeEnv({ REPO: other.repo });
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('from-the-other-repo');
    expect(host.state().slots[host.state().live].commit).toBe(commit);
    host.writeEnv({});
  }, 120_000);

  it('install-hook refuses Switchyard\'s own mirror, and says where a repository to push to goes', async () => {
    const mirror = paths.mirror(host.deployRoot);
    const hooksBefore = git('-C', mirror, 'rev-parse', '--git-path', 'hooks');
    const result = await host.run(['install-hook', mirror]);
    expect(result.exitCode, result.output).toBe(1);
    expect(result.stderr).toContain(`error: ${mirror} is Switchyard's own mirror of REPO, not a repository to push to (every deploy overwrites its branches); no hook was written; create your bare repository elsewhere`);
    expect(existsSync(path.join(mirror, hooksBefore, 'post-receive'))).toBe(false);
  }, 60_000);
});

/** The README's own layout: the bare repository pushed to is DEPLOY_ROOT/repo.git, where the mirror used to be. */
describe('push to deploy with the README paths', () => {
  let host: TestHost;
  let bare: string;

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    bare = path.join(host.deployRoot, 'repo.git');
    git('clone', '--bare', '--quiet', host.example.repo, bare);
    host.writeEnv({ REPO: bare });
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('install-hook accepts it; after a push deploys, a plain deploy stays on the pushed commit instead of going back a release', async () => {
    const installed = await host.run(['install-hook', bare]);
    expect(installed.exitCode, installed.output).toBe(0);
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    const v2 = host.example.commit('v2');
    const push = execFileSync('git', ['-C', host.example.repo, 'push', bare, 'main'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...IDENTITY } });
    expect(push).toBe('');
    expect(host.state().history.at(-1)).toMatchObject({ outcome: 'success', commit: v2 });
    const plain = await host.run(['deploy']);
    expect(plain.exitCode, plain.output).toBe(0);
    expect(host.state().slots[host.state().live].commit).toBe(v2);
    expect((await host.get('/')).json.version).toBe('v2');
    expect(git('-C', bare, 'rev-parse', 'main')).toBe(v2);
  }, 180_000);
});

describe('a mirror left by an older Switchyard at DEPLOY_ROOT/repo.git', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('is adopted: moved to the new place, its stored origin (and credentials) dropped, slots kept working', async () => {
    // What the older version did: a bare clone with the URL as origin, slots as worktrees of it.
    const legacy = path.join(host.deployRoot, 'repo.git');
    git('clone', '--bare', '--quiet', host.example.repo, legacy);
    git('-C', legacy, 'config', 'remote.origin.url', 'https://deployer:old-secret-4711@git.example.invalid/app.git');
    git('-C', legacy, 'worktree', 'add', '--quiet', '--detach', '--force', paths.slot(host.deployRoot, 'b'), host.example.head());
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    const mirror = paths.mirror(host.deployRoot);
    expect(existsSync(legacy)).toBe(false);
    expect(statSync(path.join(mirror, 'HEAD')).isFile()).toBe(true);
    expect(filesContaining(host.deployRoot, 'old-secret-4711')).toEqual([]);
    // The slot that was a worktree of the old mirror now belongs to the new one.
    expect(git('-C', paths.slot(host.deployRoot, 'b'), 'rev-parse', '--git-common-dir')).toBe(mirror);
    expect(git('-C', paths.slot(host.deployRoot, 'b'), 'rev-parse', 'HEAD')).toBe(host.example.head());
  }, 120_000);
});

/** A REPO that needs credentials: a real git HTTP server (dumb protocol) behind basic auth. */
describe('credentials in REPO', () => {
  let host: TestHost;
  let server: http.Server;
  let served: string;
  let password = 's3cret-pass-one';
  const repoUrl = (pass: string) => `http://deployer:${pass}@127.0.0.1:${(server.address() as AddressInfo).port}/app.git`;
  const publish = () => {
    git('-C', host.example.repo, 'push', '--quiet', '--force', served, 'main');
    git('-C', served, 'update-server-info');
  };

  beforeAll(async () => {
    host = await createTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    served = path.join(host.dir, 'served', 'app.git');
    git('init', '--bare', '--quiet', served);
    publish();
    server = http.createServer((req, res) => {
      const expected = `Basic ${Buffer.from(`deployer:${password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) return res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      const file = path.join(served, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/app\.git\/?/, ''));
      if (!file.startsWith(served) || !existsSync(file) || statSync(file).isDirectory()) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }, 60_000);
  afterAll(async () => {
    server?.close();
    await host?.cleanUp();
  }, 60_000);

  const secretsAnywhere = async (secret: string) => {
    const history = await host.run(['history', '--json', '-n', '50']);
    const status = await host.run(['status', '--json']);
    return {
      onDisk: filesContaining(host.deployRoot, secret),
      history: history.output.includes(secret),
      status: status.output.includes(secret),
    };
  };

  it('a deploy through them leaves the secret nowhere on disk', async () => {
    host.writeEnv({ REPO: repoUrl(password) });
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect(result.output).not.toContain(password);
    expect(await secretsAnywhere(password)).toEqual({ onDisk: [], history: false, status: false });
  }, 120_000);

  it('rotated credentials apply at once; the failure with the old ones is recorded without them', async () => {
    const old = password;
    password = 's3cret-pass-two';
    host.example.commit('v2');
    publish();
    const refused = await host.run(['deploy']);
    expect(refused.exitCode, refused.output).toBe(1);
    expect(refused.output).not.toContain(old);
    // git never had the credentials on its command line (git-credentials.ts): the reason names the URL without them.
    expect(host.state().history.at(-1).reason).toMatch(/ -- http:\/\/127\.0\.0\.1:\d+\/app\.git /);
    expect(await secretsAnywhere(old)).toEqual({ onDisk: [], history: false, status: false });
    host.writeEnv({ REPO: repoUrl(password) });
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('v2');
    expect(await secretsAnywhere(password)).toEqual({ onDisk: [], history: false, status: false });
  }, 120_000);
});
