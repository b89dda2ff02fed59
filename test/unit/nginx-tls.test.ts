import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { certbotCommand } from '../../lib/config/tls.ts';
import { operatorSteps } from '../../lib/setup/init.ts';
import { renderSiteFile } from '../../lib/setup/init-steps.ts';
import { certificateCovers, checkRenewal, loopbackOf } from '../../lib/setup/doctor/tls.ts';
import { renderTlsSite, splitServer } from '../../lib/traffic/nginx-tls.ts';

/** NGINX_TLS's keys and the HTTPS site rendered from the template's one server body (pure); test/e2e/https.test.ts runs it for real. */
const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop' };
const resolve = (values: Record<string, string>) => resolveConfig({ fileValues: { ...base, ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });
const acme = { NGINX_TLS: 'acme', NGINX_SERVER_NAME: 'shop.example.com www.shop.example.com' };

/** The server blocks of a site, each as its lines without the head (listen, server_name, ssl_*). */
function servers(site: string): { head: string[]; body: string[] }[] {
  return [...site.matchAll(/^server \{\n([\s\S]*?)^\}$/gm)].map((match) => {
    const lines = match[1].split('\n');
    return { head: lines.filter((line) => /^ {4}(listen|server_name|ssl_\w+) /.test(line)), body: lines.filter((line) => !/^ {4}(listen|server_name|ssl_\w+) /.test(line) && line.trim() !== '') };
  });
}

describe('NGINX_TLS configuration', () => {
  it('acme: the hook writes key and chain into one file per app; the switch checks through the loopback check server', () => {
    const { nginx } = resolve(acme);
    expect(nginx.tls).toMatchObject({ mode: 'acme', listen: '443', cert: '/etc/nginx/switchyard-tls/shop.pem', key: '/etc/nginx/switchyard-tls/shop.pem', hsts: false, checkListen: '127.0.0.1:8089' });
    expect(nginx.checkUrl).toBe('http://127.0.0.1:8089/__switchyard/health');
    expect(nginx.checkHost).toBe('shop.example.com');
    expect(resolve({}).nginx.checkUrl).toBe('http://127.0.0.1/__switchyard/health');
  });

  it('refuses what cannot work, naming the key: no host name, files without them, a check server off loopback, a path nginx would parse', () => {
    expect(() => resolve({ NGINX_TLS: 'acme' })).toThrow(/NGINX_TLS=acme requires NGINX_SERVER_NAME/);
    expect(() => resolve({ ...acme, NGINX_TLS: 'files' })).toThrow(/NGINX_TLS=files requires NGINX_TLS_CERT and NGINX_TLS_KEY/);
    expect(() => resolve({ ...acme, NGINX_CHECK_LISTEN: '0.0.0.0:8089' })).toThrow(/NGINX_CHECK_LISTEN must be a loopback address:port/);
    expect(() => resolve({ ...acme, NGINX_TLS_LISTEN: '80' })).toThrow(/NGINX_TLS_LISTEN and NGINX_LISTEN must be different ports/);
    expect(() => resolve({ ...acme, NGINX_TLS_CERT: '/etc/x.pem; include /etc/shadow' })).toThrow(/NGINX_TLS_CERT must be an absolute path/);
    expect(() => resolve({ ...acme, NGINX_TLS: 'yes' })).toThrow(/NGINX_TLS must be off, acme or files/);
  });
});

describe("init's HTTPS step", () => {
  it('doctor passes a renewal that runs the hook on NGINX_TLS_CERT and keeps the key; it fails one that would change the key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'renewal-'));
    try {
      mkdirSync(path.join(dir, 'renewal'));
      mkdirSync(path.join(dir, 'cron'));
      writeFileSync(path.join(dir, 'cron', 'certbot'), '0 */12 * * * root certbot -q renew\n');
      const ctx = { config: resolve({ ...acme, CERTBOT_DIR: dir }), env: {}, nodeEngines: '>=20' };
      const roots = { systemd: path.join(dir, 'systemd'), cron: path.join(dir, 'cron') };
      const params = "[renewalparams]\nauthenticator = webroot\nrenew_hook = /usr/local/sbin/switchyard-tls-hook /etc/nginx/switchyard-tls/shop.pem\n";
      writeFileSync(path.join(dir, 'renewal', 'shop.conf'), `${params}reuse_key = True\n`);
      expect(checkRenewal(ctx, roots)).toMatchObject({ ok: true });
      writeFileSync(path.join(dir, 'renewal', 'shop.conf'), params);
      const result = checkRenewal(ctx, roots);
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).toMatch(/lacks reuse_key = True.*reuse_key = True under \[renewalparams\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the hook, its folder, the webroot and certbot certonly --webroot with the hook for NGINX_TLS_CERT, after nginx serves the site', () => {
    const config = resolve(acme);
    const command = certbotCommand('shop', config.nginx.serverName, config.nginx.tls, '/opt/switchyard/templates/nginx/switchyard-tls-hook');
    expect(command).toBe('install -m 755 -o root /opt/switchyard/templates/nginx/switchyard-tls-hook /usr/local/sbin/ && install -d -m 750 -o root -g www-data /etc/nginx/switchyard-tls'
      + ' && install -d -m 755 /var/www/switchyard-acme && certbot certonly --webroot -w /var/www/switchyard-acme -d shop.example.com -d www.shop.example.com'
      + " --cert-name shop --reuse-key --deploy-hook '/usr/local/sbin/switchyard-tls-hook /etc/nginx/switchyard-tls/shop.pem'");
    const steps = operatorSteps({ user: 'deploy', envFile: '/e/.env', siteFile: '/s', nginxInstalled: true, testCmd: 'nginx -t', reloadCmd: 'nginx -s reload', certbot: command });
    expect(steps.findIndex((step) => step.startsWith('HTTPS: once nginx serves the site'))).toBe(steps.findIndex((step) => step.startsWith('check everything')) - 1);
  });
});

describe('the HTTPS site', () => {
  it('puts the template\'s one server body, as it is, into the HTTPS server and the loopback check server; port 80 only redirects', () => {
    const plain = renderSiteFile(resolve({ NGINX_SERVER_NAME: acme.NGINX_SERVER_NAME }));
    const site = renderSiteFile(resolve(acme));
    const [https, redirect, check] = servers(site);
    const [original] = servers(plain);
    expect(servers(site)).toHaveLength(3);
    expect(https.head).toEqual([
      '    listen 443 ssl http2;',
      '    server_name shop.example.com www.shop.example.com;',
      '    ssl_certificate /etc/nginx/switchyard-tls/shop.pem$switchyard_shop_per_handshake;',
      '    ssl_certificate_key /etc/nginx/switchyard-tls/shop.pem$switchyard_shop_per_handshake;',
      '    ssl_protocols TLSv1.2 TLSv1.3;',
      '    ssl_prefer_server_ciphers off;',
      '    ssl_session_cache shared:switchyard_shop_tls:10m;',
      '    ssl_session_timeout 1d;',
    ]);
    expect(https.body).toEqual(original.body);
    expect(check.head).toEqual(['    listen 127.0.0.1:8089;', '    server_name shop.example.com www.shop.example.com;']);
    expect(check.body).toEqual(original.body);
    expect(redirect.head).toEqual(['    listen 80;', '    server_name shop.example.com www.shop.example.com;']);
    expect(redirect.body.join('\n')).toContain('location ^~ /.well-known/acme-challenge/ {\n        root /var/www/switchyard-acme;');
    expect(redirect.body.join('\n')).toContain('return 301 https://$host$request_uri;');
    expect(redirect.body.join('\n')).not.toContain('proxy_pass');
    // Everything outside the server block (maps, the upstream include) is the plain site's, once.
    expect(site.match(/^include /gm)).toHaveLength(1);
  });

  it('a line another feature adds inside the template\'s server applies to HTTPS and the check server alike', () => {
    const config = resolve({ ...acme, NGINX_TLS_LISTEN: '127.0.0.1:8443' });
    const template = 'include /x;\nserver {\n    listen 80;\n    server_name shop.example.com;\n\n    access_log /var/log/nginx/judge.log judge;\n    location / { proxy_pass http://x; }\n}\n';
    expect(splitServer(template).body).toEqual(['', '    access_log /var/log/nginx/judge.log judge;', '    location / { proxy_pass http://x; }']);
    const site = renderTlsSite({ site: template, upstreamName: 'switchyard_shop', listen: '80', serverName: 'shop.example.com', tls: config.nginx.tls });
    expect(site.match(/access_log \/var\/log\/nginx\/judge\.log judge;/g)).toHaveLength(2);
    expect(site).toContain('return 301 https://$host:8443$request_uri;');
  });

  it('HSTS only when asked, and then in every location too (a location with add_header lines drops the server\'s)', () => {
    expect(renderSiteFile(resolve(acme))).not.toContain('Strict-Transport-Security');
    const site = renderSiteFile(resolve({ ...acme, NGINX_TLS_HSTS: 'on' }));
    const [https, redirect, check] = servers(site);
    const locations = https.body.filter((line) => /^\s+location\b/.test(line)).length;
    // The server's own line, and one in each location.
    expect(https.body.filter((line) => line.includes('Strict-Transport-Security')).length).toBe(locations + 1);
    expect([...redirect.body, ...check.body].join('\n')).not.toContain('Strict-Transport-Security');
  });
});

describe("doctor's certificate reading", () => {
  it('matches names and wildcards as TLS clients do, and reaches a listen address through loopback', () => {
    expect(certificateCovers('shop.example.com', 'SHOP.example.com')).toBe(true);
    expect(certificateCovers('*.example.com', 'shop.example.com')).toBe(true);
    expect(certificateCovers('*.example.com', 'a.shop.example.com')).toBe(false);
    expect(loopbackOf('443')).toBe('127.0.0.1');
    expect(loopbackOf('127.0.0.2:8443')).toBe('127.0.0.2');
    expect(loopbackOf('[::]:443')).toBe('::1');
  });
});
