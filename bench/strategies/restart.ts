import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestNginx } from '../../harness/nginx.ts';
import { freePort } from '../../harness/ports.ts';
import { spawnApp, stopApp, waitHealthy, type AppProcess } from '../app-process.ts';
import { makeNaiveApp } from '../naive-app.ts';
import { startSite, upstreamText } from '../site.ts';
import type { Strategy } from '../types.ts';

/** Baseline (a): one port, naive SIGTERM handler, stop the old version and then start the new one. */
export function restartStrategy(): Strategy {
  let dir = '';
  let nginx: TestNginx | undefined;
  let app: AppProcess | undefined;
  let port = 0;
  let setVersion: (version: string) => void = () => {};
  let appDir = '';
  return {
    name: 'restart',
    description: 'one port, naive app (server.close + 30 s force exit), stop then start on the same port; upstream: one plain server line, keepalive 32',
    async setUp() {
      dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-restart-'));
      ({ dir: appDir, setVersion } = makeNaiveApp(path.join(dir, 'app')));
      port = await freePort();
      nginx = await startSite(dir, upstreamText([`server 127.0.0.1:${port};`, 'keepalive 32;']));
      app = spawnApp({ dir: appDir, port, version: 'v1', logFile: path.join(dir, 'app.log') });
      await waitHealthy(port);
      return { port: nginx.port };
    },
    async cycle(index) {
      const old = app!;
      const version = `v${index + 1}`;
      setVersion(version);
      const start = Date.now();
      const stopped = await stopApp(old);
      app = spawnApp({ dir: appDir, port, version, logFile: path.join(dir, 'app.log') });
      await waitHealthy(port);
      const end = Date.now();
      return {
        cycle: index,
        command: 'restart',
        start,
        end,
        ok: !stopped.killed,
        fromVersion: old.version,
        toVersion: version,
        sigtermAt: stopped.sigtermAt,
        exitAt: stopped.exitAt,
        marks: [
          { name: 'sigterm', at: stopped.sigtermAt },
          { name: 'exit', at: stopped.exitAt },
        ],
        ...(stopped.killed ? { error: 'the old version needed SIGKILL' } : {}),
      };
    },
    async tearDown() {
      if (app) await stopApp(app, 5000).catch(() => undefined);
      await nginx?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
