import { parseListen } from '../config/values.ts';
import type { TlsConfig } from '../config/tls.ts';

/**
 * The site with HTTPS (NGINX_TLS not off), from the site rendered for plain HTTP: the template's one
 * server body goes, unchanged, into an HTTPS server and a loopback-only check server, each with its own
 * listen lines, so whatever the template's server holds (sticky sessions, long-lived requests, lines
 * other features add) holds on both; port 80 keeps only the ACME challenge and a redirect. Pure.
 */

export type TlsSite = { site: string; upstreamName: string; listen: string; serverName: string; tls: TlsConfig };

const HSTS = 'add_header Strict-Transport-Security "max-age=31536000" always;';

/** The template's server block split into its head (listen, server_name) and its body; throws when the site has none. */
export function splitServer(site: string): { before: string; body: string[]; after: string } {
  const match = /^server \{\n([\s\S]*?)^\}\n?/m.exec(site);
  if (!match) throw new Error('the nginx site template has no `server {` block at the start of a line, ended by `}` at the start of a line');
  const body = match[1].split('\n').filter((line) => !/^ {4}(listen|server_name) [^;]*;$/.test(line));
  while (body.length > 0 && body[body.length - 1] === '') body.pop();
  return { before: site.slice(0, match.index), body, after: site.slice(match.index + match[0].length) };
}

/** HSTS in every location too: nginx drops a server's add_header in a location that has add_header lines of its own. */
function withHsts(body: string[]): string[] {
  return body.flatMap((line) => {
    const opener = /^(\s+)location\b[^{]*\{\s*$/.exec(line);
    return opener ? [line, `${opener[1]}    ${HSTS}`] : [line];
  });
}

function server(head: string[], body: string[]): string {
  return ['server {', ...head.map((line) => (line ? `    ${line}` : '')), ...body, '}', ''].join('\n');
}

/** The rendered plain-HTTP site turned into the HTTPS one. Pure. */
export function renderTlsSite(input: TlsSite): string {
  const { tls, upstreamName, serverName } = input;
  const { before, body, after } = splitServer(input.site);
  const perHandshake = `$${upstreamName}_per_handshake`;
  const tlsPort = parseListen(tls.listen);
  const redirectPort = tlsPort === 443 ? '' : `:${tlsPort}`;
  const https = server(
    [
      `listen ${tls.listen} ssl http2;`,
      `server_name ${serverName};`,
      `ssl_certificate ${tls.cert}${perHandshake};`,
      `ssl_certificate_key ${tls.key}${perHandshake};`,
      'ssl_protocols TLSv1.2 TLSv1.3;',
      'ssl_prefer_server_ciphers off;',
      `ssl_session_cache shared:${upstreamName}_tls:10m;`,
      'ssl_session_timeout 1d;',
      ...(tls.hsts ? [HSTS] : []),
      '',
    ],
    tls.hsts ? withHsts(body) : body,
  );
  const plain = server(
    [
      `listen ${input.listen};`,
      `server_name ${serverName};`,
      '',
      `# certbot certonly --webroot -w ${tls.webroot} answers the ACME http-01 challenge here; nothing else is served over HTTP.`,
      'location ^~ /.well-known/acme-challenge/ {',
      `    root ${tls.webroot};`,
      '    default_type text/plain;',
      '    try_files $uri =404;',
      '}',
      'location / {',
      `    return 301 https://$host${redirectPort}$request_uri;`,
      '}',
    ],
    [],
  );
  const check = server([`listen ${tls.checkListen};`, `server_name ${serverName};`, ''], body);
  return [
    before,
    `# HTTPS (NGINX_TLS=${tls.mode}, docs/https.md). The certificate's path holds an empty variable, so nginx reads`,
    '# the files at each TLS handshake: a renewed certificate is served from the next handshake on, with no',
    "# reload (a reload would close idle keep-alive connections). The key must be readable by nginx's workers.",
    `map $server_port ${perHandshake} {`,
    "    default '';",
    '}',
    '',
    https,
    `# Port ${parseListen(input.listen)}: the ACME challenge, and a redirect of everything else to HTTPS.`,
    plain,
    `# The same server on loopback over plain HTTP (NGINX_CHECK_LISTEN): the switch checks through it`,
    '# (NGINX_CHECK_URL), so a deploy depends neither on port 80 nor on the certificate.',
    check,
    after,
  ].join('\n').replace(/\n{3,}/g, '\n\n');
}
