import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePorts } from './ports.ts';
import { waitFor } from './wait.ts';

/**
 * A local ACME server as Debian ships it: pebble, with pebble-challtestsrv as its DNS (every name is
 * 127.0.0.1), validating http-01 challenges for real on `httpPort` (the site's port 80), and certbot
 * run as operators run it, with its folders in `dir`. Missing tools fail with how to install them.
 */

export type Acme = {
  directory: string;
  /** pebble's issuing root (PEM): what a client trusts to verify the certificates it issues. */
  root: string;
  /** `certbot <args>` with this server and the test's folders; resolves with its output, rejects on a non-zero exit. */
  certbot(args: string[]): Promise<string>;
  configDir: string;
  stop(): Promise<void>;
};

export function requireTool(name: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) {
    throw new Error(`${name} is not installed: install it with \`apt-get install -y ${pkg}\` (.ci/run does); the HTTPS tests need a real ACME server and certbot`);
  }
}

export async function startAcme(dir: string, httpPort: number): Promise<Acme> {
  requireTool('pebble', 'pebble');
  requireTool('pebble-challtestsrv', 'pebble');
  requireTool('certbot', 'certbot');
  requireTool('openssl', 'openssl');
  mkdirSync(dir, { recursive: true });
  const [acmePort, managementPort, dnsPort, challengeManagement] = await freePorts(4);
  // pebble's own HTTPS (the ACME API), trusted by certbot through REQUESTS_CA_BUNDLE.
  const apiKey = path.join(dir, 'api-key.pem');
  const apiCert = path.join(dir, 'api-cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', apiKey, '-out', apiCert,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl could not make pebble's certificate: ${made.stderr}`);
  const config = path.join(dir, 'pebble.json');
  writeFileSync(config, JSON.stringify({ pebble: {
    listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${managementPort}`, certificate: apiCert, privateKey: apiKey,
    httpPort, tlsPort: 5001, ocspResponderURL: '', externalAccountBindingRequired: false,
  } }));
  const children: ChildProcess[] = [];
  const logs: Record<string, string> = { dns: '', pebble: '' };
  const start = (name: 'dns' | 'pebble', argv: string[], env: Record<string, string> = {}) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout?.on('data', (chunk) => (logs[name] += chunk));
    child.stderr?.on('data', (chunk) => (logs[name] += chunk));
    children.push(child);
    return child;
  };
  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitFor('pebble and its DNS to exit', () => children.every((child) => child.exitCode !== null || child.signalCode !== null), { timeoutMs: 10_000 });
  };
  try {
    start('dns', ['pebble-challtestsrv', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
      '-management', `127.0.0.1:${challengeManagement}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '']);
    // No sleeps before validating, no rejected nonces, no reused authorizations: each order validates through the webroot.
    const pebble = start('pebble', ['pebble', '-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`],
      { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
    await waitFor('pebble to listen', () => {
      if (pebble.exitCode !== null) throw new Error(`pebble exited: ${logs.pebble}`);
      return logs.pebble.includes('Listening on:') && logs.dns.includes('Starting management server');
    }, { timeoutMs: 30_000 });
    const rootResponse = await execa('curl', ['-fsS', '--cacert', apiCert, `https://127.0.0.1:${managementPort}/roots/0`]);
    const configDir = path.join(dir, 'certbot');
    return {
      directory: `https://127.0.0.1:${acmePort}/dir`,
      root: rootResponse.stdout,
      configDir,
      async certbot(args) {
        const result = await execa('certbot', [...args, '--server', `https://127.0.0.1:${acmePort}/dir`, '--non-interactive',
          '--config-dir', configDir, '--work-dir', path.join(dir, 'certbot-work'), '--logs-dir', path.join(dir, 'certbot-logs')],
        { env: { REQUESTS_CA_BUNDLE: apiCert }, reject: false, all: true, timeout: 120_000 });
        if (result.exitCode !== 0) {
          const log = path.join(dir, 'certbot-logs', 'letsencrypt.log');
          throw new Error(`certbot ${args[0]} failed (exit ${result.exitCode}):\n${result.all}\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : ''}\npebble:\n${logs.pebble.slice(-2000)}`);
        }
        return result.all ?? '';
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The deploy-hook Switchyard ships, as certbot runs it. */
export const TLS_HOOK = fileURLToPath(new URL('../templates/nginx/switchyard-tls-hook', import.meta.url));

export type TlsSite = { env: Record<string, string>; certFile: string; webroot: string; tlsPort: number; acmeDir: string };

/**
 * The folders docs/https.md has root make, in `work`: the hook's folder (root's, 0750, group of
 * nginx's workers: nobody's, as the test nginx runs them) and the ACME webroot; and the .env keys of
 * an NGINX_TLS=acme site for `name` on free loopback ports.
 */
export async function prepareTlsSite(work: string, name: string, appName = 'exampleapp'): Promise<TlsSite> {
  const tlsDir = path.join(work, 'tls');
  mkdirSync(tlsDir, { recursive: true });
  chownSync(tlsDir, 0, Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim()));
  chmodSync(tlsDir, 0o750);
  const webroot = path.join(work, 'acme-webroot');
  mkdirSync(webroot, { recursive: true, mode: 0o755 });
  const [tlsPort, checkPort] = await freePorts(2);
  const certFile = path.join(tlsDir, `${appName}.pem`);
  const acmeDir = path.join(work, 'acme');
  return {
    env: {
      NGINX_TLS: 'acme',
      NGINX_SERVER_NAME: name,
      NGINX_TLS_LISTEN: `127.0.0.1:${tlsPort}`,
      NGINX_CHECK_LISTEN: `127.0.0.1:${checkPort}`,
      NGINX_TLS_CERT: certFile,
      NGINX_ACME_WEBROOT: webroot,
      CERTBOT_DIR: path.join(acmeDir, 'certbot'),
    },
    certFile,
    webroot,
    tlsPort,
    acmeDir,
  };
}

/** `certbot certonly --webroot` as docs/https.md runs it, with the hook as its --deploy-hook. */
export function certonlyArgs(site: TlsSite, name: string, certName = 'exampleapp'): string[] {
  return ['certonly', '--webroot', '-w', site.webroot, '-d', name, '--cert-name', certName, '--reuse-key', '--agree-tos',
    '--register-unsafely-without-email', '--deploy-hook', `${TLS_HOOK} ${site.certFile}`];
}
