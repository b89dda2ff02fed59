import { execa } from 'execa';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExampleRepo } from '../../harness/example-repo.ts';
import { DEPLOY_TS } from '../../harness/host.ts';
import { freePorts } from '../../harness/ports.ts';
import { startSitesNginx } from '../../harness/sites-nginx.ts';
import { appEnvFile } from '../../lib/config/app-file.ts';
import { PROJECT_DIR } from '../../lib/project-dir.ts';

/**
 * Two apps on one host and one nginx, told apart by host name on the same port: each set up by
 * `./deploy.ts --app NAME init --server-name ... --nginx` (its own apps/NAME.env, no DEPLOY_ENV_FILE),
 * deployed and served by name; doctor names a third site that claims one app's name and port.
 * nginx as root, laid out like Debian's (sites-available, sites-enabled).
 */
const APPS = [
  { name: 'longlived-shop', host: 'shop.longlived.test' },
  { name: 'longlived-blog', host: 'blog.longlived.test' },
];

describe('several apps on one host', () => {
  let dir: string;
  let nginx: Awaited<ReturnType<typeof startSitesNginx>>;
  let listen: number;
  const run = (app: string, args: string[]) => execa(DEPLOY_TS, ['--app', app, ...args], { reject: false, all: true, env: { NO_COLOR: '1' }, timeout: 120_000 });
  // node:http, not fetch: fetch does not let a request choose its Host header.
  const get = (host: string, pathname = '/') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: listen, path: pathname, headers: { host }, agent: false }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      }).on('error', reject);
    });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'longlived-apps-'));
    chmodSync(dir, 0o755);
    nginx = await startSitesNginx(path.join(dir, 'web'));
    const ports = await freePorts(5);
    listen = ports[4];
    for (const [index, app] of APPS.entries()) {
      const example = createExampleRepo(path.join(dir, `${app.name}-repo`));
      example.commit(`${app.name} v1`);
      const result = await run(app.name, [
        'init', '--repo', example.repo, '--root', path.join(dir, app.name), '--listen', `127.0.0.1:${listen}`, '--server-name', app.host,
        '--port-a', String(ports[index * 2]), '--port-b', String(ports[index * 2 + 1]), '--build', 'node build.js', '--start', 'node server.js',
        '--test-cmd', nginx.testCmd, '--reload-cmd', nginx.reloadCmd, '--pid-file', nginx.pidFile, '--nginx', '--nginx-dir', nginx.etc,
      ]);
      expect(result.exitCode, result.all).toBe(0);
      expect(result.stdout).toContain(appEnvFile(PROJECT_DIR, app.name));
    }
  }, 120_000);
  afterAll(async () => {
    for (const app of APPS) {
      await run(app.name, ['stop', `${app.name}-a`, '--force']);
      await run(app.name, ['stop', `${app.name}-b`, '--force']);
      rmSync(appEnvFile(PROJECT_DIR, app.name), { force: true });
    }
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('deploys each app with --app NAME and nginx serves each by its host name on the one port', async () => {
    for (const app of APPS) {
      const deployed = await run(app.name, ['deploy']);
      expect(deployed.exitCode, deployed.all).toBe(0);
    }
    for (const app of APPS) {
      const answer = await get(app.host);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ version: `${app.name} v1` });
    }
    const status = await run('longlived-blog', ['status']);
    expect(status.stdout).toMatch(/^longlived-blog: live slot a/m);
    const missing = await run('longlived-nosuch', ['status']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/^error: no configuration for app longlived-nosuch: \S+apps\/longlived-nosuch\.env does not exist; nothing was changed; /m);
  }, 240_000);

  it('doctor passes the nginx config check, and names another site that claims the same name and port', async () => {
    const clean = await run('longlived-shop', ['doctor', '--json']);
    const check = (output: string) => JSON.parse(output).checks.find((c: { title: string }) => c.title === 'nginx config');
    expect(check(clean.stdout), clean.all).toMatchObject({ ok: true });
    writeFileSync(path.join(nginx.etc, 'sites-enabled', 'stray'), `server {\n    listen 127.0.0.1:${listen};\n    server_name other.test shop.longlived.test;\n    return 204;\n}\n`);
    const clash = await run('longlived-shop', ['doctor', '--json']);
    expect(check(clash.stdout), clash.all).toMatchObject({ ok: false });
    expect(check(clash.stdout).detail).toContain(`another site claims this app's server_name and port: ${path.join(nginx.etc, 'sites-enabled', 'stray')} claims shop.longlived.test on 127.0.0.1:${listen} too`);
    rmSync(path.join(nginx.etc, 'sites-enabled', 'stray'));
  }, 120_000);
});
