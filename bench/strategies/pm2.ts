import { execa } from 'execa';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestNginx } from '../../harness/nginx.ts';
import { freePort } from '../../harness/ports.ts';
import { renderUpstream } from '../../lib/traffic/upstream.ts';
import { waitHealthy } from '../app-process.ts';
import { APP_NAME, startSite } from '../site.ts';
import type { Strategy } from '../types.ts';

const PM2 = fileURLToPath(new URL('../../node_modules/.bin/pm2', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('../../templates/example-app', import.meta.url));

/**
 * `pm2 reload` in cluster mode (2 instances sharing the port) of the example app (with the drain
 * helper), behind nginx with a single-server upstream rendered like Switchyard's live one. PM2 runs
 * with a private PM2_HOME and is killed (`pm2 kill`) at the end.
 */
export function pm2Strategy(): Strategy {
  let dir = '';
  let appDir = '';
  let pm2Home = '';
  let nginx: TestNginx | undefined;
  let version = 'v1';
  const pm2 = (args: string[], extraEnv: Record<string, string> = {}) =>
    execa(PM2, args, { cwd: appDir, env: { PM2_HOME: pm2Home, ...extraEnv }, timeout: 60_000, all: true, reject: false });
  return {
    name: 'pm2',
    description: 'pm2 reload, cluster mode, 2 instances of the example app (drain helper, pm2 defaults: SIGINT, kill_timeout 1.6 s); single-server upstream as Switchyard renders it',
    async setUp() {
      if (!existsSync(PM2)) throw new Error(`${PM2} is missing: npm install --save-dev pm2@6`);
      dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-pm2-'));
      appDir = path.join(dir, 'app');
      pm2Home = path.join(dir, 'pm2-home');
      cpSync(TEMPLATE, appDir, { recursive: true });
      writeFileSync(path.join(appDir, 'VERSION'), 'v1\n');
      const port = await freePort();
      nginx = await startSite(dir, renderUpstream({ kind: 'live', appName: APP_NAME, host: '127.0.0.1', live: { slot: 'a', endpoints: [{ kind: 'port', port, index: 0 }] } }));
      const started = await pm2(['start', 'server.js', '--name', APP_NAME, '-i', '2'], { PORT: String(port) });
      if (started.exitCode !== 0) throw new Error(`pm2 start failed: ${started.all}`);
      await waitHealthy(port);
      return { port: nginx.port };
    },
    async cycle(index) {
      const fromVersion = version;
      version = `v${index + 1}`;
      writeFileSync(path.join(appDir, 'VERSION'), `${version}\n`);
      const start = Date.now();
      const result = await pm2(['reload', APP_NAME]);
      const end = Date.now();
      return {
        cycle: index,
        command: 'reload',
        start,
        end,
        ok: result.exitCode === 0,
        fromVersion,
        toVersion: version,
        marks: [],
        ...(result.exitCode === 0 ? {} : { error: `pm2 reload exited ${result.exitCode}: ${result.all?.slice(-1500)}` }),
      };
    },
    async tearDown() {
      if (pm2Home && existsSync(pm2Home)) {
        const pidFile = path.join(pm2Home, 'pm2.pid');
        const daemon = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined;
        await pm2(['kill']);
        // pm2 kill returns as the daemon exits; make sure our daemon (and only ours) is gone.
        for (let waited = 0; daemon && alive(daemon) && waited < 3000; waited += 100) await sleep(100);
        if (daemon && alive(daemon)) process.kill(daemon, 'SIGKILL');
      }
      await nginx?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
