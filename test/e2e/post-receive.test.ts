import { execa } from 'execa';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { cleanGitEnv } from '../../lib/release/git.ts';
import { waitFor } from '../../harness/wait.ts';
import { planInstall, renderPostReceive, TEMPLATE_FILE } from '../../scripts/install-hook.ts';
import { shellQuote } from '../../lib/host/commands/quote.ts';

const template = readFileSync(TEMPLATE_FILE, 'utf8');
const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };
const SHA = 'a'.repeat(40);
const ZERO = '0'.repeat(40);

describe('renderPostReceive', () => {
  const values = { deployTs: '/srv/switchyard/deploy.ts', branch: 'main', nodeDir: '/usr/local/bin', envFile: '/srv/myapp/switchyard.env' };

  it('fills the four values at the top of the hook, shell-quoted', () => {
    const lines = renderPostReceive(template, values).split('\n');
    const start = lines.indexOf("SWITCHYARD_DEPLOY='/srv/switchyard/deploy.ts'");
    expect(lines.slice(start, start + 4)).toEqual([
      "SWITCHYARD_DEPLOY='/srv/switchyard/deploy.ts'",
      "SWITCHYARD_BRANCH='main'",
      "SWITCHYARD_NODE_DIR='/usr/local/bin'",
      "SWITCHYARD_ENV_FILE='/srv/myapp/switchyard.env'",
    ]);
    expect(renderPostReceive(template, values)).not.toMatch(/\{\{[A-Z_]+\}\}/);
  });

  it('leaves SWITCHYARD_ENV_FILE empty when install-hook read the .env beside deploy.ts', () => {
    const text = renderPostReceive(template, { ...values, envFile: undefined });
    expect(text).toContain("SWITCHYARD_NODE_DIR='/usr/local/bin'\nSWITCHYARD_ENV_FILE=''\n");
  });

  it("quotes values so no path can break out of the hook's shell", () => {
    expect(shellQuote("/srv/it's $(here)")).toBe(`'/srv/it'\\''s $(here)'`);
    expect(renderPostReceive(template, { ...values, deployTs: "/srv/a b/it's/deploy.ts" })).toContain(`SWITCHYARD_DEPLOY='/srv/a b/it'\\''s/deploy.ts'\n`);
  });

  it('refuses a template that lost a placeholder', () => {
    expect(() => renderPostReceive(template.replace('{{NODE_DIR}}', "''"), values)).toThrow(/the hook template has no \{\{NODE_DIR\}\}/);
  });

  it('planInstall: writes a new hook, leaves an identical one, refuses a different one unless forced', () => {
    expect(planInstall(undefined, 'hook', false)).toBe('write');
    expect(planInstall('hook', 'hook', false)).toBe('unchanged');
    expect(planInstall('other', 'hook', false)).toBe('refuse');
    expect(planInstall('other', 'hook', true)).toBe('write');
  });
});

/** The installed hook run by the real /bin/sh with a stand-in deploy.ts that reports how it was called. */
describe('the post-receive hook script', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-hook-'));
  const fakeDeploy = path.join(dir, "fake deploy's.ts");
  const hook = path.join(dir, 'post-receive');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
    writeFileSync(fakeDeploy, [
      '#!/bin/sh',
      'printf "args:"; printf "%s|" "$@"; echo',
      'echo "GIT_DIR=${GIT_DIR-unset} cwd=$(pwd) env=${DEPLOY_ENV_FILE-unset}"',
      'exit "${FAKE_EXIT:-0}"',
      '',
    ].join('\n'));
    chmodSync(fakeDeploy, 0o755);
    writeFileSync(hook, renderPostReceive(template, { deployTs: fakeDeploy, branch: 'main', nodeDir: '', envFile: '/srv/x.env' }), { mode: 0o755 });
  });

  async function runHook(stdin: string, env: Record<string, string> = {}) {
    const result = await execa(hook, [], { input: stdin, env: { GIT_DIR: '.', ...env }, reject: false, all: true, cwd: dir });
    return { exitCode: result.exitCode, output: result.all ?? '' };
  }

  it('deploys the configured branch with the commit as one argument, GIT_DIR unset', async () => {
    expect(await runHook(`${ZERO} ${SHA} refs/heads/main\n`)).toEqual({
      exitCode: 0,
      output: [`switchyard: deploying ${SHA} from main`, `args:deploy|--no-color|--|${SHA}|`, 'GIT_DIR=unset cwd=/ env=/srv/x.env'].join('\n'),
    });
  });

  it('of several refs, deploys only the configured branch and names the others', async () => {
    const other = 'b'.repeat(40);
    const result = await runHook(`${ZERO} ${other} refs/heads/feature\n${ZERO} ${SHA} refs/heads/main\n${ZERO} ${other} refs/tags/v1\n`);
    expect(result.exitCode).toBe(0);
    expect(result.output.split('\n')).toEqual([
      'switchyard: refs/heads/feature ignored (only refs/heads/main is deployed)',
      'switchyard: refs/tags/v1 ignored (only refs/heads/main is deployed)',
      `switchyard: deploying ${SHA} from main`,
      `args:deploy|--no-color|--|${SHA}|`,
      'GIT_DIR=unset cwd=/ env=/srv/x.env',
    ]);
  });

  it('ignores other branches, and a branch whose name only starts with the configured one', async () => {
    expect(await runHook(`${ZERO} ${SHA} refs/heads/feature\n${ZERO} ${SHA} refs/heads/main2\n`)).toEqual({
      exitCode: 0,
      output: 'switchyard: refs/heads/feature ignored (only refs/heads/main is deployed)\nswitchyard: refs/heads/main2 ignored (only refs/heads/main is deployed)',
    });
  });

  it('ignores the deletion of the branch', async () => {
    expect(await runHook(`${SHA} ${ZERO} refs/heads/main\n`)).toEqual({ exitCode: 0, output: 'switchyard: refs/heads/main was deleted; the live slot keeps serving' });
  });

  it('accepts a SHA-256 commit id', async () => {
    const sha256 = 'c'.repeat(64);
    const result = await runHook(`${'0'.repeat(64)} ${sha256} refs/heads/main\n`);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain(`args:deploy|--no-color|--|${sha256}|`);
  });

  it('refuses anything that is not a commit id before running deploy', async () => {
    for (const bad of ['--help', '$(id)', 'A'.repeat(40), 'a'.repeat(39), 'a'.repeat(41)]) {
      const result = await runHook(`${ZERO} ${bad} refs/heads/main\n`);
      expect(result, bad).toEqual({ exitCode: 1, output: `switchyard: git passed ${bad}, which is not a commit id; nothing deployed` });
    }
  });

  it('exits with the deploy\'s status and says the live slot was kept', async () => {
    const result = await runHook(`${ZERO} ${SHA} refs/heads/main\n`, { FAKE_EXIT: '3' });
    expect(result.exitCode).toBe(3);
    expect(result.output.split('\n').at(-1)).toBe(
      `switchyard: DEPLOY FAILED (exit 3): main now points at ${SHA}, but traffic still goes to the previous release; see the error above, then push a fix or run deploy.ts deploy`,
    );
  });

  it('waits while another deploy holds the lock (exit 75) and deploys then; gives up for a newer push', async () => {
    // A real bare repository whose main is the pushed commit; the stand-in deploy exits 75 the first time only.
    const bare = path.join(dir, 'waits.git');
    await execa('git', ['init', '--bare', '--quiet', '--initial-branch=main', bare]);
    const tree = (await execa('git', ['--git-dir', bare, 'hash-object', '-t', 'tree', '-w', '--stdin'], { input: '' })).stdout;
    const commit = async (message: string) => (await execa('git', ['--git-dir', bare, 'commit-tree', tree, '-m', message], { env: GIT_IDENTITY })).stdout;
    const pushed = await commit('pushed');
    await execa('git', ['--git-dir', bare, 'update-ref', 'refs/heads/main', pushed]);
    const once = path.join(dir, 'deploy-once');
    writeFileSync(once, ['#!/bin/sh', `[ -e ${shellQuote(`${once}.ran`)} ] || { : > ${shellQuote(`${once}.ran`)}; echo locked; exit 75; }`, 'echo "deployed $4"', ''].join('\n'), { mode: 0o755 });
    const waiting = path.join(bare, 'hooks', 'post-receive');
    writeFileSync(waiting, renderPostReceive(template, { deployTs: once, branch: 'main', nodeDir: '', envFile: '' }), { mode: 0o755 });
    const result = await execa(waiting, [], { input: `${ZERO} ${pushed} refs/heads/main\n`, env: { GIT_DIR: '.' }, reject: false, all: true, cwd: bare });
    expect({ exitCode: result.exitCode, output: result.all?.split('\n') }).toEqual({
      exitCode: 0,
      output: [`switchyard: deploying ${pushed} from main`, 'locked', `switchyard: waiting for that command to finish, then deploying ${pushed}`, `switchyard: deploying ${pushed} from main`, `deployed ${pushed}`],
    });
    rmSync(`${once}.ran`);
    const newer = await commit('newer');
    await execa('git', ['--git-dir', bare, 'update-ref', 'refs/heads/main', newer]);
    const stale = await execa(waiting, [], { input: `${ZERO} ${pushed} refs/heads/main\n`, env: { GIT_DIR: '.' }, reject: false, all: true, cwd: bare });
    expect({ exitCode: stale.exitCode, last: stale.all?.split('\n').at(-1) }).toEqual({ exitCode: 0, last: `switchyard: main has moved on to ${newer} since this push; that push deploys it, so ${pushed} is not deployed` });
  }, 60_000);

  it('ignores a DEPLOY_ENV_FILE in the pusher\'s environment when installed without one', async () => {
    const plain = path.join(dir, 'post-receive-plain');
    writeFileSync(plain, renderPostReceive(template, { deployTs: fakeDeploy, branch: 'main', nodeDir: '', envFile: undefined }), { mode: 0o755 });
    const result = await execa(plain, [], { input: `${ZERO} ${SHA} refs/heads/main\n`, env: { DEPLOY_ENV_FILE: '/elsewhere.env' }, reject: false, all: true });
    expect(result.exitCode).toBe(0);
    expect(result.all?.split('\n').at(-1)).toBe('GIT_DIR=unset cwd=/ env=unset');
  });

  it('unsets every variable that points git at this repository (as cleanGitEnv does), and keeps the others', async () => {
    const printer = path.join(dir, 'print-git-env.sh');
    writeFileSync(printer, "#!/bin/sh\nenv | grep '^GIT_' | sort\n", { mode: 0o755 });
    const installed = path.join(dir, 'post-receive-env');
    writeFileSync(installed, renderPostReceive(template, { deployTs: printer, branch: 'main', nodeDir: '', envFile: undefined }), { mode: 0o755 });
    const redirecting = {
      GIT_DIR: '.', GIT_WORK_TREE: '/w', GIT_INDEX_FILE: '/i', GIT_OBJECT_DIRECTORY: '/o', GIT_ALTERNATE_OBJECT_DIRECTORIES: '/a',
      GIT_QUARANTINE_PATH: '/q', GIT_NAMESPACE: 'n', GIT_COMMON_DIR: '/c', GIT_PREFIX: 'p/', GIT_CONFIG_PARAMETERS: "'core.bare'='true'",
      GIT_CONFIG_COUNT: '1', GIT_CONFIG: '/cfg', GIT_CEILING_DIRECTORIES: '/',
    };
    expect(Object.keys(cleanGitEnv(redirecting))).toEqual([]);
    const result = await execa(installed, [], { input: `${ZERO} ${SHA} refs/heads/main\n`, env: { ...redirecting, GIT_SSH_COMMAND: 'ssh -i key' }, extendEnv: false, reject: false, all: true });
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all?.split('\n').filter((line) => line.startsWith('GIT_'))).toEqual(['GIT_SSH_COMMAND=ssh -i key']);
  });

  it('does nothing on an empty push', async () => {
    expect(await runHook('')).toEqual({ exitCode: 0, output: '' });
  });

  it('refuses to run as an uninstalled template', async () => {
    const raw = path.join(dir, 'raw-template');
    writeFileSync(raw, template, { mode: 0o755 });
    const result = await execa(raw, [], { input: `${ZERO} ${SHA} refs/heads/main\n`, reject: false, all: true });
    expect({ exitCode: result.exitCode, output: result.all }).toEqual({ exitCode: 1, output: 'switchyard: this hook was not installed with ./deploy.ts install-hook; nothing deployed' });
  });
});

/** Real pushes to a real bare repository, deploying through real nginx. */
describe('push to deploy, end to end', () => {
  let host: TestHost;
  let bare: string;
  const git = (args: string[]) => execa('git', ['-C', host.example.repo, ...args], { env: GIT_IDENTITY, reject: false, all: true });

  beforeAll(async () => {
    host = await createTestHost({ env: APP_WITHOUT_NPM });
    bare = path.join(host.dir, 'bare.git');
    await execa('git', ['clone', '--bare', '--quiet', host.example.repo, bare]);
    host.writeEnv({ REPO: bare });
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('install-hook refuses a repository that is not bare, and writes nothing', async () => {
    const result = await host.run(['install-hook', host.example.repo]);
    expect(result.exitCode, result.output).toBe(1);
    expect(result.stderr).toContain(`error: ${host.example.repo} is not a bare repository`);
    expect(() => statSync(path.join(host.example.repo, '.git', 'hooks', 'post-receive'))).toThrow();
  });

  it('install-hook installs an executable hook and says where', async () => {
    const result = await host.run(['install-hook', bare]);
    expect(result.exitCode, result.output).toBe(0);
    const hookFile = path.join(bare, 'hooks', 'post-receive');
    expect(result.stdout.trim().split('\n')).toEqual([expect.stringContaining(`installed ${hookFile}: pushes to main deploy with `)]);
    expect(statSync(hookFile).mode & 0o111).not.toBe(0);
    expect(readFileSync(hookFile, 'utf8')).toContain(`SWITCHYARD_ENV_FILE=${shellQuote(host.envFile, { always: true })}\n`);
    const again = await host.run(['install-hook', bare]);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.stdout).toContain(`already up to date: ${hookFile}`);
  });

  it('install-hook leaves a different existing hook alone unless --force', async () => {
    const other = path.join(host.dir, 'other.git');
    await execa('git', ['init', '--bare', '--quiet', other]);
    const hookFile = path.join(other, 'hooks', 'post-receive');
    writeFileSync(hookFile, '#!/bin/sh\necho mine\n', { mode: 0o755 });
    const refused = await host.run(['install-hook', other]);
    expect(refused.exitCode, refused.output).toBe(1);
    expect(refused.stderr).toContain(`error: ${hookFile} already exists and is not this Switchyard hook; it was left as it is; move it aside`);
    expect(readFileSync(hookFile, 'utf8')).toBe('#!/bin/sh\necho mine\n');
    const forced = await host.run(['install-hook', other, '--force']);
    expect(forced.exitCode, forced.output).toBe(0);
    expect(readFileSync(hookFile, 'utf8')).toContain('SWITCHYARD_DEPLOY=');
  });

  it('deploys v1 the usual way', async () => {
    const result = await host.run(['deploy']);
    expect(result.exitCode, result.output).toBe(0);
    expect((await host.get('/')).json.version).toBe('v1');
  }, 120_000);

  it('a push to main deploys it, and the pusher sees the deploy', async () => {
    const v2 = host.example.commit('v2');
    const push = await git(['push', bare, 'main']);
    expect(push.exitCode, push.all).toBe(0);
    expect(push.all).toContain(`remote: switchyard: deploying ${v2} from main`);
    expect(push.all).toMatch(new RegExp(`remote: ✔ deployed ${v2.slice(0, 7)} on slot b`));
    const response = await host.get('/');
    expect(response.json).toMatchObject({ version: 'v2', slot: 'b' });
    expect(host.state().slots.b.commit).toBe(v2);
  }, 120_000);

  it('a push to another branch deploys nothing', async () => {
    const push = await git(['push', bare, 'HEAD:refs/heads/feature']);
    expect(push.exitCode, push.all).toBe(0);
    expect(push.all).toContain('remote: switchyard: refs/heads/feature ignored (only refs/heads/main is deployed)');
    expect(push.all).not.toMatch(/switchyard: deploying|✔ deployed|ok fetch/);
    expect((await host.get('/')).json).toMatchObject({ version: 'v2', slot: 'b' });
  }, 60_000);

  it('a broken release is reported to the pusher and v2 keeps serving', async () => {
    const broken = host.example.commit('v3', (repo) => writeFileSync(path.join(repo, 'build.js'), "console.error('build broke'); process.exit(1);\n"));
    const push = await git(['push', bare, 'main']);
    // git ignores a post-receive hook's exit status (githooks(5): the ref has already moved), so the
    // push itself succeeds; the failure reaches the pusher only through these remote: lines.
    expect(push.exitCode, push.all).toBe(0);
    expect(push.all).toMatch(/remote: +build │ build broke/);
    expect(push.all).toMatch(/remote: error: .*failed with exit code 1/);
    expect(push.all).toContain(`remote: switchyard: DEPLOY FAILED (exit 1): main now points at ${broken}, but traffic still goes to the previous release`);
    expect(push.all).not.toMatch(/remote: ✔ deployed/);
    expect((await host.get('/')).json).toMatchObject({ version: 'v2', slot: 'b' });
  }, 120_000);

  it('two quick pushes: the second waits for the first deploy and then deploys its commit (no push is lost)', async () => {
    // The first push's build runs until the test lets it finish, so the second push surely lands while it holds the lock.
    const gate = path.join(host.dir, 'build-gate');
    const first = host.example.commit('v4', (repo) => writeFileSync(path.join(repo, 'build.js'), `import fs from 'node:fs';\nwhile (!fs.existsSync(${JSON.stringify(gate)})) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);\n`));
    const firstPush = git(['push', bare, 'main']);
    await waitFor('the first push to take the deploy lock', () => existsSync(path.join(host.deployRoot, 'deploy.lock')), { timeoutMs: 60_000 });
    const second = host.example.commit('v5');
    const secondPush = git(['push', bare, 'main']);
    let secondOutput = '';
    secondPush.all?.on('data', (chunk) => (secondOutput += chunk));
    await waitFor('the second push to wait for the first', () => /waiting for it|DEPLOY FAILED/.test(secondOutput), { timeoutMs: 60_000, output: () => secondOutput });
    writeFileSync(gate, '');
    const [one, two] = await Promise.all([firstPush, secondPush]);
    expect(one.exitCode, one.all).toBe(0);
    expect(one.all).toMatch(new RegExp(`remote: ✔ deployed ${first.slice(0, 7)}`));
    expect(two.exitCode, two.all).toBe(0);
    expect(two.all).not.toMatch(/DEPLOY FAILED/);
    expect(two.all).toMatch(new RegExp(`remote: ✔ deployed ${second.slice(0, 7)}`));
    expect((await host.get('/')).json.version).toBe('v5');
  }, 240_000);
});
