import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestNginx } from '../../harness/nginx.ts';
import { freePorts } from '../../harness/ports.ts';
import { spawnApp, stopApp, waitHealthy, type AppProcess } from '../app-process.ts';
import { makeNaiveApp } from '../naive-app.ts';
import { startSite, upstreamText } from '../site.ts';
import type { Strategy } from '../types.ts';

/**
 * Baseline (b), `substitute`'s passive layout as its README had it: both ports listed as plain
 * `server` lines (nginx's default max_fails=1 fail_timeout=10s), naive app; per cycle start the new
 * version on the idle port, wait until healthy, SIGTERM the old one and wait for its exit.
 */
export function passiveNaiveStrategy(): Strategy {
  let dir = '';
  let nginx: TestNginx | undefined;
  let live: AppProcess | undefined;
  let ports: number[] = [];
  let setVersion: (version: string) => void = () => {};
  let appDir = '';
  return {
    name: 'passive-naive',
    description: 'two plain server lines (default max_fails), keepalive 32, naive app; start new on the idle port, SIGTERM the old',
    async setUp() {
      dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-passive-'));
      ({ dir: appDir, setVersion } = makeNaiveApp(path.join(dir, 'app')));
      ports = await freePorts(2);
      nginx = await startSite(dir, upstreamText([...ports.map((port) => `server 127.0.0.1:${port};`), 'keepalive 32;']));
      live = spawnApp({ dir: appDir, port: ports[0], version: 'v1', logFile: path.join(dir, 'app.log') });
      await waitHealthy(ports[0]);
      return { port: nginx.port };
    },
    async cycle(index) {
      const old = live!;
      const version = `v${index + 1}`;
      const port = old.port === ports[0] ? ports[1] : ports[0];
      setVersion(version);
      const start = Date.now();
      live = spawnApp({ dir: appDir, port, version, logFile: path.join(dir, 'app.log') });
      await waitHealthy(port);
      const healthyAt = Date.now();
      const stopped = await stopApp(old);
      const end = Date.now();
      return {
        cycle: index,
        command: 'swap',
        start,
        end,
        ok: !stopped.killed,
        fromVersion: old.version,
        toVersion: version,
        sigtermAt: stopped.sigtermAt,
        exitAt: stopped.exitAt,
        marks: [
          { name: 'healthy', at: healthyAt },
          { name: 'sigterm', at: stopped.sigtermAt },
          { name: 'exit', at: stopped.exitAt },
        ],
        ...(stopped.killed ? { error: 'the old version needed SIGKILL' } : {}),
      };
    },
    async tearDown() {
      if (live) await stopApp(live, 5000).catch(() => undefined);
      await nginx?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
