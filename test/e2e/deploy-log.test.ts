import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deployLogId, deployLogPid, listDeployLogs, openDeployLog, printDeployLog, resolveDeployLog, rotateDeployLogs } from '../../lib/record/deploy-log.ts';
import { keyComment } from '../../lib/host/deployer.ts';
import { Reporter } from '../../lib/cli/reporter.ts';
import { waitFor } from '../../harness/wait.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-deploy-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deploy logs under DEPLOY_ROOT/deploys', () => {
  it('ids sort by time and name the writing pid', () => {
    const id = deployLogId(new Date('2026-12-01T06:36:12.345Z'), 4242);
    expect(id).toBe('20261201-063612-4242');
    expect(deployLogPid(id)).toBe(4242);
    expect(() => resolveDeployLog(dir, '../../etc/passwd')).toThrow(/is not a deploy id/);
  });

  it('a log is 0600 in a 0700 folder, holds every line, and the oldest beyond the limit are removed', () => {
    const root = path.join(dir, 'rotate');
    const log = openDeployLog(root, new Date('2026-12-01T00:00:00Z'), 3);
    log.write('one');
    log.write('two');
    expect(readFileSync(log.file, 'utf8')).toBe('one\ntwo\n');
    expect(statSync(log.file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(log.file)).mode & 0o777).toBe(0o700);
    for (const stamp of ['20261130-000000-1', '20261130-000000-2', '20261130-000000-3']) writeFileSync(path.join(root, 'deploys', `${stamp}.log`), `${stamp}\n`);
    rotateDeployLogs(root, 3);
    expect(listDeployLogs(root)).toEqual(['20261130-000000-2', '20261130-000000-3', log.id]);
    expect(resolveDeployLog(root, 'last').id).toBe(log.id);
  });

  it('follows a log while its writer runs and returns, with the last line, once it has exited', async () => {
    const root = path.join(dir, 'follow');
    const file = path.join(root, 'deploys');
    // A real writer: a process that appends a line every 100 ms, then its last line, and exits.
    const writer = spawn(process.execPath, ['-e', `
      const fs = require('fs'); const path = require('path');
      const id = ${JSON.stringify('20261201-000000-')} + process.pid;
      fs.mkdirSync(${JSON.stringify(file)}, { recursive: true });
      const log = path.join(${JSON.stringify(file)}, id + '.log');
      let n = 0;
      const timer = setInterval(() => { fs.appendFileSync(log, 'line ' + n++ + '\\n'); if (n === 8) { clearInterval(timer); fs.appendFileSync(log, '✔ deployed abc1234 on slot b'); } }, 100);
      // deploy: the follower checks the command line names a deploy
    `, 'deploy'], { stdio: 'ignore' });
    const id = `20261201-000000-${writer.pid}`;
    const logFile = path.join(file, `${id}.log`);
    await waitFor('the writer to create its deploy log', () => existsSync(logFile), { timeoutMs: 10_000, everyMs: 20 });
    const lines: string[] = [];
    await printDeployLog(logFile, id, (line) => lines.push(line), { follow: true, pollMs: 50 });
    expect(lines).toEqual([...Array.from({ length: 8 }, (_, index) => `line ${index}`), '✔ deployed abc1234 on slot b']);
  }, 20_000);
});

describe('who deployed: the SSH key comment', () => {
  it('maps the key sshd names in SSH_USER_AUTH to its comment in authorized_keys', () => {
    const auth = 'publickey ssh-ed25519 AAAAold\npublickey ssh-ed25519 AAAAused\n';
    const authorized = '# team keys\nssh-ed25519 AAAAother bob@desk\nfrom="10.0.0.0/8",no-pty ssh-ed25519 AAAAused ana@laptop (work)\n';
    expect(keyComment(auth, authorized)).toBe('ana@laptop (work)');
    expect(keyComment(auth, 'ssh-ed25519 AAAAused\n')).toBeUndefined();
    expect(keyComment('password\n', authorized)).toBeUndefined();
  });
});

describe('the Reporter after the terminal went away', () => {
  it('never waits on a dead pipe (EPIPE), and the deploy log still gets every line', async () => {
    const child = spawn('true', { stdio: ['pipe', 'ignore', 'ignore'] });
    await new Promise((resolve) => child.once('exit', resolve));
    const logged: string[] = [];
    const reporter = new Reporter({ color: false, stream: child.stdin!, errorStream: child.stdin!, tee: (line) => logged.push(line) });
    // A write that waited on the dead pipe would never resolve: the test's bound would end it.
    for (let index = 0; index < 2000; index++) await reporter.output('build', `line ${index} ${'x'.repeat(200)}`);
    reporter.success('deployed');
    expect(logged).toHaveLength(2001);
    expect(logged.at(-1)).toBe('✔ deployed');
  });
});
