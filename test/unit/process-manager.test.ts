import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { systemdProcesses } from '../../lib/slot/process-manager.ts';

/** PROCESS_MANAGER=systemd cannot run here (no systemd as PID 1): check the env file it writes and the exact commands it issues. */
describe('the systemd process manager', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-systemd-'));
  const config = resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: root, PROCESS_MANAGER: 'systemd', STOP_TIMEOUT: '20s' }, env: {}, envFile: path.join(root, '.env') });

  function recorder(mainPid: string) {
    const issued: string[][] = [];
    return {
      issued,
      runner: {
        run: async (argv: string[]) => void issued.push(argv),
        capture: async (argv: string[]) => {
          issued.push(argv);
          return mainPid;
        },
      },
    };
  }

  it('writes the slot env file, then starts the unit with sudo and reads its main pid', async () => {
    const { issued, runner } = recorder('4242\n');
    const pid = await systemdProcesses(config, {}, runner).start('b');
    expect(pid).toBe(4242);
    expect(readFileSync(path.join(root, 'run', 'shop-b.env'), 'utf8')).toContain('PORT=3002\nHOST=127.0.0.1\nSWITCHYARD_SLOT=b\n');
    expect(issued).toEqual([
      ['sudo', '-n', 'systemctl', 'start', 'shop@b.service'],
      ['systemctl', 'show', '-p', 'MainPID', '--value', 'shop@b.service'],
    ]);
  });

  it("writes the app's environment into the slot's env file before PORT, HOST and SWITCHYARD_SLOT", async () => {
    const { runner } = recorder('4242\n');
    await systemdProcesses(config, { PATH: '/opt/node/bin:/usr/bin', GREETING: 'hello $USER', PORT: '1' }, runner).start('a');
    expect(readFileSync(path.join(root, 'run', 'shop-a.env'), 'utf8')).toMatch(/\nPATH="\/opt\/node\/bin:\/usr\/bin"\nGREETING="hello \\\$USER"\nPORT=3001\nHOST=127.0.0.1\nSWITCHYARD_SLOT=a\n$/);
  });

  it('stops a running unit with systemctl stop and says so; a stopped one is not stopped again', async () => {
    const running = recorder('4242');
    expect((await systemdProcesses(config, {}, running.runner).stop('a')).result).toBe('exited');
    expect(running.issued.at(-1)).toEqual(['sudo', '-n', 'systemctl', 'stop', 'shop@a.service']);
    const stopped = recorder('0');
    expect((await systemdProcesses(config, {}, stopped.runner).stop('a')).result).toBe('not-running');
    expect(stopped.issued).toEqual([['systemctl', 'show', '-p', 'MainPID', '--value', 'shop@a.service']]);
  });
});
