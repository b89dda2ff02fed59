import { nginxPathProblem, parseListen } from './values.ts';

/** The site's HTTPS settings (NGINX_TLS and the keys behind it), validated; docs/https.md. Pure. */

export type TlsMode = 'off' | 'acme' | 'files';
export const TLS_MODES: readonly TlsMode[] = ['off', 'acme', 'files'];

export type TlsConfig = {
  mode: TlsMode;
  listen: string;
  cert: string;
  key: string;
  hsts: boolean;
  webroot: string;
  /** The loopback-only plain-HTTP server the switch checks through (NGINX_CHECK_LISTEN). */
  checkListen: string;
  certbotDir: string;
};

type TlsKey = 'NGINX_TLS' | 'NGINX_TLS_LISTEN' | 'NGINX_TLS_CERT' | 'NGINX_TLS_KEY' | 'NGINX_TLS_HSTS' | 'NGINX_ACME_WEBROOT' | 'NGINX_CHECK_LISTEN' | 'CERTBOT_DIR';

/** Where certbot's deploy-hook puts an app's key and chain by default: a folder of root's that nginx's workers' group may read. */
export function defaultTlsFile(appName: string): string {
  return `/etc/nginx/switchyard-tls/${appName}.pem`;
}

/**
 * Read and check the TLS keys: `value` gives a key's value or its default, `given` only what was set.
 * Problems are pushed, in the words the rest of the configuration uses.
 */
export function parseTls(
  value: (key: TlsKey) => string,
  given: (key: TlsKey) => string | undefined,
  context: { appName: string; serverName: string; listen: string },
  problems: string[],
): TlsConfig {
  const mode = value('NGINX_TLS') as TlsMode;
  if (!TLS_MODES.includes(mode)) problems.push(`NGINX_TLS must be off, acme or files; got ${JSON.stringify(mode)}`);
  const on = mode === 'acme' || mode === 'files';
  const certGiven = given('NGINX_TLS_CERT');
  const keyGiven = given('NGINX_TLS_KEY');
  const cert = certGiven || defaultTlsFile(context.appName || 'app');
  // One file holds both by default: a handshake never pairs a renewed certificate with the old key.
  const key = keyGiven || cert;
  const tls: TlsConfig = {
    mode,
    listen: value('NGINX_TLS_LISTEN'),
    cert,
    key,
    hsts: value('NGINX_TLS_HSTS') === 'on',
    webroot: value('NGINX_ACME_WEBROOT'),
    checkListen: value('NGINX_CHECK_LISTEN'),
    certbotDir: value('CERTBOT_DIR'),
  };
  if (!on) return tls;
  if (mode === 'files' && (!certGiven || !keyGiven)) problems.push('NGINX_TLS=files requires NGINX_TLS_CERT and NGINX_TLS_KEY: your certificate chain and its key');
  // A certificate names hosts: `_` (any host) cannot be issued, and certbot --nginx would not know which server to edit.
  if (certificateNames(context.serverName).length === 0) problems.push(`NGINX_TLS=${mode} requires NGINX_SERVER_NAME: the host name(s) the certificate is for, such as shop.example.com; got ${JSON.stringify(context.serverName)}`);
  if (!['on', 'off'].includes(value('NGINX_TLS_HSTS'))) problems.push(`NGINX_TLS_HSTS must be on or off; got ${JSON.stringify(value('NGINX_TLS_HSTS'))}`);
  const tlsPort = parseListen(tls.listen);
  if (tlsPort === undefined) problems.push(`NGINX_TLS_LISTEN must be a port or address:port such as 443; got ${JSON.stringify(tls.listen)}`);
  else if (tlsPort === parseListen(context.listen)) problems.push(`NGINX_TLS_LISTEN and NGINX_LISTEN must be different ports; both are ${tlsPort}`);
  const checkPort = parseListen(tls.checkListen);
  if (checkPort === undefined || !/^(127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(tls.checkListen)) {
    problems.push(`NGINX_CHECK_LISTEN must be a loopback address:port such as 127.0.0.1:8089 (the check server must not be reachable from outside); got ${JSON.stringify(tls.checkListen)}`);
  } else if (checkPort === tlsPort || checkPort === parseListen(context.listen)) problems.push(`NGINX_CHECK_LISTEN's port ${checkPort} is also the site's NGINX_LISTEN or NGINX_TLS_LISTEN; give it a port of its own`);
  for (const [name, file] of [['NGINX_TLS_CERT', cert], ['NGINX_TLS_KEY', key], ['NGINX_ACME_WEBROOT', tls.webroot]] as const) {
    const wrong = nginxPathProblem(file);
    if (wrong) problems.push(`${name} ${wrong}; got ${JSON.stringify(file)}`);
  }
  return tls;
}

/** The host names a certificate must cover: the site's plain names (no `_`, wildcards or patterns). Pure. */
export function certificateNames(serverName: string): string[] {
  return serverName.split(' ').filter((name) => name !== '_' && !/[*~^$]/.test(name));
}

/** The root command that installs the hook and its folders and issues the certificate (docs/https.md), for init's to-do list and doctor. Pure. */
export function certbotCommand(appName: string, serverName: string, tls: TlsConfig, hookSource: string): string {
  const folder = tls.cert.slice(0, tls.cert.lastIndexOf('/')) || '/';
  return [
    `install -m 755 -o root ${hookSource} /usr/local/sbin/`,
    `install -d -m 750 -o root -g www-data ${folder}`,
    `install -d -m 755 ${tls.webroot}`,
    `certbot certonly --webroot -w ${tls.webroot} ${certificateNames(serverName).map((name) => `-d ${name}`).join(' ')} --cert-name ${appName} --reuse-key --deploy-hook '/usr/local/sbin/switchyard-tls-hook ${tls.cert}'`,
  ].join(' && ');
}
