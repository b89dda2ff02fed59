import { execa } from 'execa';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certonlyArgs, prepareTlsSite, startAcme, type Acme, type TlsSite } from '../../harness/acme.ts';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { duringLoad, failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { createLongLivedRepo, longLivedEnv, openWebSocket, type LongLivedRepo } from '../../harness/long-lived.ts';
import { servedCertificate } from '../../lib/setup/doctor/tls.ts';
import { readPidFile } from '../../lib/host/process.ts';
import { childPids } from '../../lib/host/proc.ts';

/**
 * HTTPS as an operator sets it up (docs/https.md): NGINX_TLS=acme, a real root nginx serving the site
 * `./deploy.ts nginx-site` printed, Debian's pebble as the ACME server validating http-01 through the
 * site's webroot, certbot certonly --webroot with the hook Switchyard ships as its --deploy-hook. Port
 * 80 only answers challenges and redirects: every deploy checks through the loopback check server.
 */
const NAME = 'app.test';

describe('HTTPS with NGINX_TLS=acme: certbot, pebble and a real nginx', () => {
  let app: LongLivedRepo;
  let host: TestHost;
  let acme: Acme;
  let work: string;
  let certFile: string;
  let site: TlsSite;
  let tlsPort: number;
  let firstDeploy: { exitCode: number; output: string };

  const https = (pathname: string, extra: string[] = []) =>
    execa('curl', ['-sS', '--cacert', path.join(work, 'root.pem'), '--resolve', `${NAME}:${tlsPort}:127.0.0.1`, ...extra, `https://${NAME}:${tlsPort}${pathname}`], { reject: false });
  const served = () => servedCertificate('127.0.0.1', tlsPort, NAME);
  const loadTls = () => ({ servername: NAME, ca: acme.root });

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'https-'));
    chmodSync(work, 0o755);
    site = await prepareTlsSite(work, NAME);
    ({ certFile, tlsPort } = site);
    app = createLongLivedRepo('https-app-');
    host = await createTestHost({ env: longLivedEnv(app.repo, site.env) });
    // Before any certificate: the site only redirects on its port 80, and the deploy checks through loopback.
    firstDeploy = await host.run(['deploy']);
    acme = await startAcme(site.acmeDir, host.nginx.port);
    writeFileSync(path.join(work, 'root.pem'), acme.root);
  }, 240_000);
  afterAll(async () => {
    await acme?.stop();
    await host?.cleanUp();
    app?.cleanUp();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('deploys an HTTPS-only site before it has a certificate: the switch checks through the loopback server', async () => {
    expect(firstDeploy.exitCode, firstDeploy.output).toBe(0);
    const plain = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', `Host: ${NAME}`, `http://127.0.0.1:${host.nginx.port}/some/page?x=1`]);
    expect(plain.stdout).toBe(`301 https://${NAME}:${tlsPort}/some/page?x=1`);
  });

  it('issues a certificate through the webroot; the hook hands it to nginx with no reload; HTTPS, HTTP/2 and wss work', async () => {
    const master = readPidFile(host.nginx.pidFile) as number;
    const workers = childPids(master).sort();
    await acme.certbot(certonlyArgs(site, NAME));
    const file = statSync(certFile);
    expect({ mode: (file.mode & 0o777).toString(8), uid: file.uid }).toEqual({ mode: '640', uid: 0 });
    expect((await served()).names).toEqual([NAME]);
    const answer = await https('/', ['--http2', '-w', '\n%{http_version}']);
    expect(answer.exitCode, answer.stderr).toBe(0);
    const [body, version] = answer.stdout.split('\n');
    expect(JSON.parse(body)).toMatchObject({ version: 'v1' });
    expect(version).toBe('2');
    const ws = await openWebSocket(app.require, `wss://127.0.0.1:${tlsPort}/ws`, { ca: acme.root, servername: NAME, headers: { host: NAME } });
    expect(ws.messages[0].hello).toMatchObject({ version: 'v1' });
    expect((await ws.send('over tls')).echo).toBe('over tls');
    ws.close();
    // No reload happened: the same workers serve.
    expect(childPids(master).sort()).toEqual(workers);
    expect(host.nginx.severeErrors()).toEqual([]);
  }, 120_000);

  it('deploys and rolls back under HTTPS load with 0 failed requests', async () => {
    app.commit('v2');
    const load = { port: tlsPort, tls: loadTls(), mix: { fast: 1 }, connections: 8, maxDurationMs: 120_000 };
    const deploy = await duringLoad(load, () => host.run(['deploy']));
    expect(deploy.result.exitCode, deploy.result.output).toBe(0);
    expect(summarizeFailures(deploy.records)).toMatch(/^0 of \d+ failed$/);
    expect(deploy.records.filter((record) => record.startedAt > deploy.returnedAt).every((record) => record.version === 'v2')).toBe(true);
    const rollback = await duringLoad(load, () => host.run(['rollback']));
    expect(rollback.result.exitCode, rollback.result.output).toBe(0);
    expect(summarizeFailures(rollback.records)).toMatch(/^0 of \d+ failed$/);
    expect(rollback.records.filter((record) => record.startedAt > rollback.returnedAt).every((record) => record.version === 'v1')).toBe(true);
  }, 240_000);

  it('renews under load with 0 failed requests and no reload: the next handshake serves the new certificate, with the same key', async () => {
    const before = await served();
    const master = readPidFile(host.nginx.pidFile) as number;
    const workers = childPids(master).sort();
    // Kept-alive connections, and connections of their own (a full handshake each, reading the files as they change).
    const keptAlive = startLoad({ port: tlsPort, tls: loadTls(), mix: { fast: 1 }, connections: 4, maxDurationMs: 120_000 });
    const fresh = { port: tlsPort, tls: loadTls(), mix: { fast: 1 }, connections: 4, fresh: true, maxDurationMs: 120_000 };
    const renewal = await duringLoad(fresh, () => acme.certbot(['renew', '--force-renewal', '--no-random-sleep-on-renew']));
    const records = [...renewal.records, ...(await keptAlive.stop())];
    expect(renewal.result).toMatch(/switchyard-tls-hook: .* now holds/);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect(renewal.records.filter((record) => record.startedAt > renewal.returnedAt).length).toBeGreaterThan(0);
    const after = await served();
    expect(after.serial).not.toBe(before.serial);
    // --reuse-key: only the certificate changed, so no handshake could pair one file's certificate with another's key.
    expect(after.publicKey).toBe(before.publicKey);
    expect(childPids(master).sort()).toEqual(workers);
  }, 240_000);

  it('doctor checks the served certificate, its renewal hook and the check through loopback', async () => {
    const doctor = await host.run(['doctor', '--json']);
    const checks = JSON.parse(doctor.stdout).checks as { title: string; ok: boolean; detail: string }[];
    const byTitle = Object.fromEntries(checks.map((check) => [check.title, check]));
    expect(byTitle.traffic, doctor.stdout).toMatchObject({ ok: true });
    expect(byTitle.certificate, doctor.stdout).toMatchObject({ ok: true });
    expect(byTitle.certificate.detail).toContain(`certificate for ${NAME}`);
    expect(byTitle.renewal.detail, doctor.stdout).toContain('switchyard-tls-hook');
  }, 60_000);
});
