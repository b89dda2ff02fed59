import { execa } from 'execa';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type TestNginx } from '../../harness/nginx.ts';
import { freePorts } from '../../harness/ports.ts';
import { resolveConfig } from '../../lib/config/config.ts';
import { ensureDeployRoot, ensureUpstream, renderSiteFile } from '../../lib/setup/init-steps.ts';
import { servedCertificate } from '../../lib/setup/doctor/tls.ts';

/**
 * Two apps' HTTPS sites in one real nginx (as root, workers as nobody), on the same ports: each serves
 * its own certificate by SNI, each port-80 server redirects its own name, and the one loopback check
 * listen answers for each app by Host. Certificates: self-signed (NGINX_TLS=files), key and chain in one file.
 */
const APPS = [
  { app: 'shop', name: 'shop.apps.test' },
  { app: 'blog', name: 'blog.apps.test' },
];

describe('several apps with HTTPS on one nginx', () => {
  let dir: string;
  let nginx: TestNginx;
  let ports: { listen: number; tls: number; check: number };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'https-apps-'));
    chmodSync(dir, 0o755);
    const [listen, tls, check] = await freePorts(3);
    ports = { listen, tls, check };
    const sites: string[] = [];
    for (const [index, { app, name }] of APPS.entries()) {
      const file = path.join(dir, `${app}.pem`);
      const key = path.join(dir, `${app}.key`);
      await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', `${file}.crt`,
        '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
      await execa('sh', ['-c', 'cat "$1" "$2" > "$3" && chmod 644 "$3"', 'sh', key, `${file}.crt`, file]);
      const config = resolveConfig({ env: {}, envFile: path.join(dir, `${app}.env`), fileValues: {
        APP_NAME: app, REPO: dir, DEPLOY_ROOT: path.join(dir, app), PORT_A: String(20_000 + index * 2), PORT_B: String(20_001 + index * 2),
        NGINX_TLS: 'files', NGINX_TLS_CERT: file, NGINX_TLS_KEY: file, NGINX_SERVER_NAME: name,
        NGINX_LISTEN: `127.0.0.1:${listen}`, NGINX_TLS_LISTEN: `127.0.0.1:${tls}`, NGINX_CHECK_LISTEN: `127.0.0.1:${check}`,
      } });
      // What init does: DEPLOY_ROOT with modes nginx's workers can pass, then the upstream and live-file.
      ensureDeployRoot(config);
      ensureUpstream(config);
      sites.push(renderSiteFile(config));
    }
    nginx = await startNginx(path.join(dir, 'nginx'), { site: sites.join('\n'), port: listen });
  }, 60_000);
  afterAll(async () => {
    await nginx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves each app its own certificate by SNI, redirects each name, and checks each app through the one loopback listen', async () => {
    for (const { app, name } of APPS) {
      expect((await servedCertificate('127.0.0.1', ports.tls, name)).names).toEqual([name]);
      const redirect = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{redirect_url}', '-H', `Host: ${name}`, `http://127.0.0.1:${ports.listen}/x`]);
      expect(redirect.stdout).toBe(`https://${name}:${ports.tls}/x`);
      // Nothing deployed: a 502, but from this app's own site (its upstream group in the header).
      const check = await execa('curl', ['-sS', '-o', '/dev/null', '-D', '-', '-H', `Host: ${name}`, `http://127.0.0.1:${ports.check}/__switchyard/health`]);
      expect(check.stdout).toMatch(new RegExp(`^x-switchyard-group: switchyard_${app}_a\\r?$`, 'mi'));
    }
    expect(nginx.severeErrors()).toEqual([]);
  });
});
