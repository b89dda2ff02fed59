import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TS } from '../../harness/host.ts';
import { startSshd, type TestSshd } from '../../harness/sshd.ts';
import { waitFor } from '../../harness/wait.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * Issue #30: the operator runs the fleet controller over SSH (a bastion) and the session drops mid-rollout.
 * The controller is started through a real sshd and its ssh client is killed: without a TTY its output
 * is closed under it (EPIPE at its next line), with one (-tt) it gets SIGHUP. Either way it stops as at
 * a first Ctrl-C: the batch running finishes, no further batch starts, the switched host is reverted, the
 * leases are given back and the history says why; the fleet ends on one version.
 */
describe('a fleet controller whose SSH session drops', () => {
  let bed: FleetTest;
  let dir: string;
  let sshd: TestSshd;
  let version = 1;
  const commitVersion = () => bed.commitVersion(`v${++version}`);
  const controllerGone = (pid: number) => !existsSync(`/proc/${pid}`);

  beforeAll(async () => {
    bed = await startFleetTest({ name: 'swy-fleet-session-', count: 2 });
    dir = bed.dir;
    bed.writeController({
      FLEET_BATCH: '1',
      // One new SSH connection at a time: the preflight's opens wait their turn, the lease renewals share them.
      FLEET_PARALLEL: '1',
      // The check after the first batch waits for the test: the session is dropped while it runs.
      FLEET_CHECK_CMD: `touch '${dir}/checking'; while [ ! -e '${dir}/release' ]; do sleep 0.05; done; echo check passed`,
    });
    const key = path.join(dir, 'operator_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator', '-f', key]);
    copyFileSync(`${key}.pub`, path.join(dir, 'root_keys'));
    sshd = await startSshd(path.join(dir, 'sshd'), 'root', key, { rootKeys: path.join(dir, 'root_keys') });
    const first = await bed.run(['deploy'], { FLEET_CHECK_CMD: '' });
    expect(first.exitCode, first.output).toBe(0);
  }, 400_000);

  afterAll(async () => {
    await sshd?.stop();
    await bed?.cleanUp();
  }, 120_000);

  for (const tty of [false, true]) {
    it(`ssh ${tty ? '-tt (SIGHUP)' : '-T (its output closed)'} killed mid-rollout: the switched host is reverted, the leases given back, the history says why`, async () => {
      for (const file of ['checking', 'release', 'controller.pid']) rmSync(path.join(dir, file), { force: true });
      const before = bed.liveCommits();
      expect(new Set(before).size).toBe(1);
      const target = commitVersion();
      // The remote shell records the controller's pid, then becomes it (deploy.ts's preamble execs node).
      const remote = `echo $$ > ${dir}/controller.pid && exec env DEPLOY_ENV_FILE=${bed.envFile} NO_COLOR=1 XDG_RUNTIME_DIR=${dir} ${DEPLOY_TS} fleet deploy`;
      const [program, ...args] = sshd.ssh('root', { tty });
      const session = spawn(program, [...args, remote], { stdio: ['pipe', 'pipe', 'pipe'] });
      let seen = '';
      session.stdout.on('data', (chunk) => (seen += chunk));
      session.stderr.on('data', (chunk) => (seen += chunk));
      await waitFor('the check after the first batch', () => existsSync(path.join(dir, 'checking')), { timeoutMs: 180_000, output: () => seen });
      expect(bed.liveCommits()).toEqual([target, before[1]]);
      const pid = Number(readFileSync(path.join(dir, 'controller.pid'), 'utf8'));
      expect(seen).toContain('batch 1 of 2');
      session.kill('SIGKILL');
      await new Promise((resolve) => session.once('close', resolve));
      // Without a TTY nothing tells the controller until it writes: the check ends and says so.
      if (!tty) writeFileSync(path.join(dir, 'release'), '');
      await waitFor('the controller to end', () => controllerGone(pid), { timeoutMs: 180_000 });
      expect(bed.liveCommits()).toEqual(before);
      for (const host of bed.fleet.hosts) expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease')), host.target).toBe(false);
      const history = await bed.run(['history', '--json']);
      const last = JSON.parse(history.stdout).at(-1);
      expect(last).toMatchObject({ command: 'deploy', commit: target });
      expect(Object.values(last.outcomes)).not.toContain('deployed');
      expect(JSON.stringify(last)).toContain(tty ? 'interrupted by SIGHUP' : 'interrupted by the end of the session');
    }, 400_000);
  }
});
