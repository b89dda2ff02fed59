import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeKey, createDeployUser, installSwitchyardFor, requirePrograms, startSshd, type DeployUser, type TestSshd } from '../../harness/sshd.ts';
import { resolveConfig } from '../../lib/config/config.ts';
import { slotFiles } from '../../lib/slot/slots.ts';
import { waitFor } from '../../harness/wait.ts';

function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** `logs -f` run over SSH without a TTY, the client then gone (a real sshd, a real deploy user). */
describe('logs -f over ssh without a TTY', () => {
  let dir: string;
  let user: DeployUser;
  let sshd: TestSshd;
  let remotePids: number[] = [];

  beforeAll(async () => {
    requirePrograms();
    dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-defects-b-logs-'));
    chmodSync(dir, 0o755);
    user = createDeployUser(`swyb${process.pid % 10000}`);
    installSwitchyardFor(user);
    sshd = await startSshd(path.join(dir, 'sshd'), user.name, authorizeKey(dir, user, 'ana@laptop'));
  }, 120_000);
  afterAll(async () => {
    for (const pid of remotePids) if (running(pid)) process.kill(pid, 'SIGKILL');
    user?.remove();
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** The processes under `pid` (the remote shell): deploy.ts and whatever it runs. */
  function descendants(pid: number): number[] {
    const children = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).filter((each) => {
      try {
        const stat = readFileSync(`/proc/${each}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
    return children.flatMap((child) => [child, ...descendants(child)]);
  }

  it('ends once the ssh client is gone, even when no new line is ever written', async () => {
    const deployRoot = path.join(user.home, 'root');
    const envFile = path.join(user.home, 'switchyard.env');
    writeFileSync(envFile, `APP_NAME=logsapp\nREPO=${path.join(user.home, 'repo.git')}\nDEPLOY_ROOT=${deployRoot}\n`);
    const config = resolveConfig({ fileValues: { APP_NAME: 'logsapp', REPO: '/x', DEPLOY_ROOT: deployRoot }, env: {}, envFile });
    const { logFile } = slotFiles(config, 'a');
    mkdirSync(path.dirname(logFile), { recursive: true });
    writeFileSync(logFile, 'first line\n');
    await execa('chown', ['-R', user.name, deployRoot, envFile]);
    const argv = sshd.ssh(user.name);
    const client = execa(argv[0], [...argv.slice(1), `cd switchyard && echo "pid $$" && DEPLOY_ENV_FILE=${envFile} ./deploy.ts logs a -f; echo after`], { reject: false, all: true, stdin: 'pipe' });
    let output = '';
    client.all?.on('data', (chunk) => (output += chunk));
    await waitFor('logs -f to print the log', () => output.includes('first line'), { timeoutMs: 60_000, output: () => output });
    // Not exec'd: the remote shell waits for deploy.ts, and outlives sshd's session.
    const shell = Number(/pid (\d+)/.exec(output)?.[1]);
    const under = descendants(shell);
    expect(under.length).toBeGreaterThan(0);
    remotePids = under;
    client.kill('SIGKILL');
    await client;
    await waitFor(`the remote logs -f (pids ${under.join(', ')}) to end after its ssh client was killed`, () => !under.some(running), { timeoutMs: 30_000 });
  }, 180_000);
});
