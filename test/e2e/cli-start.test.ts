import { execa } from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../harness/ports.ts';
import { WATCHED } from '../../tools/bundle.mjs';

const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url));

/**
 * How ./deploy.ts starts: from the bundle in dist/ while it is fresh, through tsx otherwise. Runs on a
 * copy of the project (node_modules linked), so the repository's own dist/ is never built or touched.
 */
describe('CLI start-up: bundle, and tsx when the bundle is missing or stale', () => {
  let dir: string;
  let project: string;
  let bin: string;
  let envFile: string;
  let ports: number[];
  /** Like an SSH command or a git hook: a bare environment, the CLI found through a symlink in PATH, another cwd. */
  const env = (extra: Record<string, string> = {}) => ({ PATH: `${bin}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', ...extra });
  const run = (args: string[], extra: Record<string, string> = {}) => execa('switchyard', args, { cwd: '/', env: env(extra), extendEnv: false, reject: false });
  /** The program the preamble execs, from `sh -x`'s trace of it. */
  const startPath = async (extra: Record<string, string> = {}) => {
    const { stderr } = await execa('sh', ['-x', path.join(bin, 'switchyard'), '--version'], { cwd: '/', env: env(extra), extendEnv: false });
    const exec = stderr.split('\n').find((line) => line.startsWith('+ exec node'));
    if (exec === `+ exec node ${project}/dist/deploy.mjs --version`) return 'bundle';
    if (exec === `+ exec node --import ${project}/lib/tsx-register.mjs -- ${project}/deploy.ts --version`) return 'tsx';
    throw new Error(`unexpected preamble trace:\n${stderr}`);
  };
  const build = () => execa(process.execPath, [path.join(project, 'tools', 'bundle.mjs')], { cwd: '/' });
  const touch = (file: string) => utimesSync(path.join(project, file), new Date(), new Date());

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-cli-start-'));
    project = path.join(dir, 'project');
    for (const entry of ['deploy.ts', 'lib', 'scripts', 'tools', 'templates', 'package.json', 'tsconfig.json']) cpSync(path.join(REPO_DIR, entry), path.join(project, entry), { recursive: true });
    symlinkSync(path.join(REPO_DIR, 'node_modules'), path.join(project, 'node_modules'));
    bin = path.join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(path.join(project, 'deploy.ts'), path.join(bin, 'switchyard'));
    ports = await freePorts(3);
    envFile = path.join(dir, 'switchyard.env');
    writeFileSync(envFile, `APP_NAME=clistart\nREPO=${path.join(dir, 'repo')}\nDEPLOY_ROOT=${path.join(dir, 'root')}\nSWITCH=none\nPORT_A=${ports[0]}\nPORT_B=${ports[1]}\nSTOP_TIMEOUT=5s\n`);
    const built = await build();
    expect(built.stdout).toMatch(/bundled the CLI into dist\//);
  }, 120_000);
  afterAll(async () => {
    await run(['stop', 'web', '--force']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the preamble checks exactly the paths the build watches', () => {
    const preamble = readFileSync(path.join(REPO_DIR, 'deploy.ts'), 'utf8').split('\n')[1];
    const watched = preamble.match(/find (.*?) -newer dist\/\.stamp/)?.[1].split(' ');
    expect(watched).toEqual(WATCHED);
  });

  it('a fresh bundle runs --version, --help and status through a symlink in PATH, from another cwd, with a bare environment', async () => {
    expect(await startPath()).toBe('bundle');
    const version = await run(['--version']);
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout).toBe('switchyard 0.1.0');
    const help = await run(['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^Usage: \.\/deploy\.ts <command>/);
    const status = await run(['status']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/clistart: live slot none, next deploy goes to slot a; switch: none/);
    const unknown = await run(['frobnicate']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  }, 60_000);

  it('from the bundle, start and stop run the app under dist/supervisor.mjs', async () => {
    const app = path.join(dir, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), '{ "private": true, "scripts": { "start": "node server.js" } }\n');
    writeFileSync(path.join(app, 'server.js'), "require('node:http').createServer((_, res) => res.end('up')).listen(Number(process.env.PORT), process.env.HOST);\nprocess.on('SIGTERM', () => process.exit(0));\n");
    expect(await startPath()).toBe('bundle');
    const started = await run(['start', 'web', app, String(ports[2])]);
    expect(started.exitCode, started.stderr).toBe(0);
    const pid = Number(readFileSync(path.join(dir, 'root', 'run', 'web.pid'), 'utf8'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(path.join(project, 'dist', 'supervisor.mjs'));
    const stopped = await run(['stop', 'web']);
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/web exited after SIGTERM/);
  }, 60_000);

  it('from the bundle, a .ts hook runs with tsx and zx', async () => {
    const hooks = path.join(dir, 'deploy', 'hooks');
    mkdirSync(hooks, { recursive: true });
    cpSync(path.join(project, 'templates', 'hooks', 'package.json'), path.join(hooks, 'package.json'));
    // It fails on purpose: the deploy stops at its first hook, before fetching anything.
    writeFileSync(path.join(hooks, 'begin.ts'), "const slot: string = process.env.SWITCHYARD_SLOT ?? '';\nconst out = await $`echo zx says ${slot}`;\nconsole.log(out.stdout.trim());\nprocess.exit(3);\n");
    expect(await startPath()).toBe('bundle');
    const deploy = await run(['deploy']);
    expect(deploy.exitCode).not.toBe(0);
    expect(deploy.stdout).toMatch(/begin │ zx says a/);
    expect(deploy.stderr).toMatch(/hook begin failed: .*exit code 3/);
  }, 60_000);

  it('SWITCHYARD_NO_BUNDLE=1 runs the TypeScript', async () => {
    expect(await startPath({ SWITCHYARD_NO_BUNDLE: '1' })).toBe('tsx');
    const version = await run(['--version'], { SWITCHYARD_NO_BUNDLE: '1' });
    expect(version.stdout).toBe('switchyard 0.1.0');
  }, 60_000);

  it('a source edited right after the build makes the bundle stale: the current sources run through tsx', async () => {
    await build();
    expect(await startPath()).toBe('bundle');
    const commands = path.join(project, 'scripts', 'commands.ts');
    writeFileSync(commands, readFileSync(commands, 'utf8').replace('Usage: ./deploy.ts <command>', 'Usage (edited): ./deploy.ts <command>'));
    expect(await startPath()).toBe('tsx');
    const help = await run(['--help']);
    expect(help.stdout).toMatch(/^Usage \(edited\): /);
    const status = await run(['status']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/clistart: live slot none/);
    await build();
    expect(await startPath()).toBe('bundle');
    expect((await run(['--help'])).stdout).toMatch(/^Usage \(edited\): /);
  }, 120_000);

  it('each watched path, and a file added to a watched folder, makes the bundle stale', async () => {
    await build();
    for (const file of ['deploy.ts', 'lib/config/duration.ts', 'lib/slot/supervisor.mjs', 'tools/bundle.mjs', 'package.json', 'tsconfig.json']) {
      expect(await startPath(), `fresh before touching ${file}`).toBe('bundle');
      const { atime, mtime } = statSync(path.join(project, file));
      touch(file);
      expect(await startPath(), `after touching ${file}`).toBe('tsx');
      // Its old time back makes the bundle fresh again, as a new build would (one build, not six).
      utimesSync(path.join(project, file), atime, mtime);
    }
    writeFileSync(path.join(project, 'lib', 'new-module.ts'), 'export {};\n');
    expect(await startPath()).toBe('tsx');
  }, 120_000);

  it('without dist/ (or without its stamp) it runs the TypeScript', async () => {
    await build();
    rmSync(path.join(project, 'dist', '.stamp'));
    expect(await startPath()).toBe('tsx');
    rmSync(path.join(project, 'dist'), { recursive: true });
    expect(await startPath()).toBe('tsx');
    const status = await run(['status']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/clistart: live slot none/);
  }, 60_000);
});
