import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHttpServer, type GitHttpServer } from '../../harness/git-http.ts';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { createDeployUser, requirePrograms, type DeployUser } from '../../harness/sshd.ts';
import { waitFor } from '../../harness/wait.ts';
import { CREDENTIAL_HELPER, repoAccess, withAccess } from '../../lib/release/git-credentials.ts';
import { lsRemoteArgv } from '../../lib/setup/doctor/repo.ts';
import { filesContaining } from '../support/field-support.ts';

describe('repoAccess (exact)', () => {
  const configArgs = ['-c', 'credential.helper=', '-c', `credential.helper=${CREDENTIAL_HELPER}`];

  it('takes the user name and password out of an http(s) URL, percent-decoded, into the environment', () => {
    expect(repoAccess('https://ana:t%40k:en@git.example/app.git')).toEqual({ url: 'https://git.example/app.git', configArgs, env: { SWITCHYARD_GIT_USERNAME: 'ana', SWITCHYARD_GIT_PASSWORD: 't@k:en' } });
    expect(repoAccess('http://TOKEN@127.0.0.1:8080/a/b.git')).toEqual({ url: 'http://127.0.0.1:8080/a/b.git', configArgs, env: { SWITCHYARD_GIT_USERNAME: 'TOKEN', SWITCHYARD_GIT_PASSWORD: '' } });
    expect(withAccess(['git', 'ls-remote', '--', 'x'], repoAccess('https://a:b@h/x'))).toEqual(['git', ...configArgs, 'ls-remote', '--', 'x']);
  });

  it('leaves URLs without credentials, ssh user names and paths as they are, with no helper', () => {
    for (const repo of ['https://git.example/app.git', 'ssh://git@github.com/a/b.git', 'git@github.com:a/b.git', '/srv/app.git', 'https://h/path@with-at']) {
      expect(repoAccess(repo)).toEqual({ url: repo, configArgs: [], env: {} });
    }
    expect(lsRemoteArgv('https://ana:secret@h/app.git', 'main')).toEqual(['git', ...configArgs, 'ls-remote', '--', 'https://h/app.git', 'refs/heads/main']);
  });
});

/**
 * REPO with a token, served by a real authenticated git HTTP server; another local user reads every
 * process's /proc/PID/cmdline while git talks to it. The server holds its answer until that user has
 * seen the git processes, so the read surely happens while they run.
 */
describe('the REPO token while git runs', () => {
  const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
  let host: TestHost;
  let server: GitHttpServer;
  let watcherUser: DeployUser;
  let watcher: ChildProcess;
  let seen: Array<{ pid: number; cmdline: string; environ: boolean }> = [];
  let awaited: RegExp[] = [];

  beforeAll(async () => {
    requirePrograms();
    host = await createTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
    server = await startGitHttpServer({
      root: host.dir,
      username: 'deployer',
      password: TOKEN,
      beforeAnswer: () => waitFor(`another user to see ${awaited.join(' and ')} in /proc/*/cmdline`, () => awaited.every((pattern) => seen.some((entry) => pattern.test(entry.cmdline))), { timeoutMs: 30_000, output: () => JSON.stringify(seen, null, 1) }).then(() => undefined),
    });
    host.writeEnv({ REPO: server.urlOf(host.example.repo, `deployer:${TOKEN}`) });
    watcherUser = createDeployUser(`sywatch${process.pid % 100000}`);
    // What any local user may run: every process's command line that names the server, and whether its environment is readable.
    const script = `const fs = require('fs'); const needle = process.argv[1]; const shown = new Set();
const scan = () => { for (const pid of fs.readdirSync('/proc')) { if (!/^\\d+$/.test(pid) || Number(pid) === process.pid) continue; let cmdline;
  try { cmdline = fs.readFileSync('/proc/' + pid + '/cmdline', 'latin1').split('\\0').join(' ').trim(); } catch { continue; }
  if (!cmdline.includes(needle) || shown.has(pid + cmdline)) continue; shown.add(pid + cmdline); let environ = true;
  try { fs.readFileSync('/proc/' + pid + '/environ'); } catch { environ = false; }
  process.stdout.write(JSON.stringify({ pid: Number(pid), cmdline, environ }) + '\\n'); } setTimeout(scan, 20); };
scan();`;
    watcher = spawn('runuser', ['-u', watcherUser.name, '--', '/usr/bin/node', '-e', script, `127.0.0.1:${server.port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffered = '';
    watcher.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line) seen.push(JSON.parse(line));
    });
  }, 120_000);

  afterAll(async () => {
    watcherUser?.remove();
    if (watcher?.pid && watcher.exitCode === null) watcher.kill('SIGKILL');
    await server?.close();
    await host?.cleanUp();
  }, 60_000);

  const phase = async (patterns: RegExp[], run: () => Promise<{ exitCode: number; output: string }>) => {
    seen = [];
    awaited = patterns;
    const before = server.authenticated;
    const result = await run();
    expect(server.authenticated, result.output).toBeGreaterThan(before);
    for (const pattern of patterns) expect(seen.some((entry) => pattern.test(entry.cmdline)), JSON.stringify(seen)).toBe(true);
    for (const entry of seen) {
      expect(entry.cmdline).not.toContain(TOKEN);
      expect(entry.environ, `another user read the environment of ${entry.cmdline}`).toBe(false);
    }
    expect(result.output).not.toContain(TOKEN);
    return result;
  };

  it('a deploy fetches with the token, and no other user sees it in git fetch or git-remote-http', async () => {
    const deployed = await phase([/ fetch /, /remote-http/], () => host.run(['deploy']));
    expect(deployed.exitCode, deployed.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('v1');
    // Not in the mirror's config, a FETCH_HEAD or any other file Switchyard keeps.
    expect(filesContaining(host.deployRoot, TOKEN)).toEqual([]);
  }, 120_000);

  it('the dry run and doctor ask REPO with git ls-remote, the token out of sight too', async () => {
    host.example.commit('v2');
    const dryRun = await phase([/ ls-remote /], () => host.run(['deploy', '--dry-run']));
    expect(dryRun.exitCode, dryRun.output).toBe(0);
    expect(dryRun.output).toContain(host.example.head().slice(0, 7));
    const doctor = await phase([/ ls-remote /], () => host.run(['doctor']));
    expect(doctor.output).toMatch(/is reachable; main is at/);
  }, 120_000);
});
