import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { plannedModes } from '../../lib/host/deploy-root.ts';
import { renderSite, siteTemplate, siteValues } from '../../lib/traffic/nginx-site.ts';
import { firstBlockedDir } from '../../lib/traffic/nginx-access.ts';

const config = (values: Record<string, string> = {}) =>
  resolveConfig({ fileValues: { APP_NAME: 'shop.web', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop', ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });

describe('the nginx site for a configuration', () => {
  it('fills every placeholder of the default (live-file) site from the configuration', () => {
    const site = renderSite(readFileSync(siteTemplate('nginx-live-file'), 'utf8'), siteValues(config({ NGINX_LISTEN: '8080' })));
    expect(site).not.toMatch(/\{\{/);
    expect(site).toContain('include /srv/shop/nginx/upstream.conf;');
    expect(site).toContain('listen 8080;');
    expect(site).toContain('if (-f /srv/shop/nginx/live-b) { set $switchyard_upstream switchyard_shop_web_b; }');
    expect(site).toContain('rewrite ^ /health break;');
    expect(site).toContain('add_header X-Switchyard-Group $switchyard_upstream always;');
  });

  it("names the site's own access log beside the judging line (which would replace the http block's), or none with NGINX_ACCESS_LOG=off", () => {
    for (const kind of ['nginx-live-file', 'nginx-reload'] as const) {
      const site = renderSite(readFileSync(siteTemplate(kind), 'utf8'), siteValues(config({ SWITCH: kind })));
      expect(site).toContain('    access_log /var/log/nginx/access.log;\n');
      expect(site).toMatch(/access_log syslog:server=127\.0\.0\.1:3001,tag=switchyard,nohostname switchyard_shop_web_judge if=/);
      const none = renderSite(readFileSync(siteTemplate(kind), 'utf8'), siteValues(config({ SWITCH: kind, NGINX_ACCESS_LOG: 'off' })));
      expect(none).not.toMatch(/access_log \/var\/log/);
      expect(none).toContain('# NGINX_ACCESS_LOG=off: no access log for this site');
    }
    expect(() => config({ NGINX_ACCESS_LOG: '/var/log/x.log; include /etc/passwd' })).toThrow(/NGINX_ACCESS_LOG must be an absolute path/);
    expect(() => config({ NGINX_ACCESS_LOG: 'access.log' })).toThrow(/NGINX_ACCESS_LOG must be an absolute path/);
  });

  it('carries WebSockets, sends long-lived requests to the stream location and sets the session cookie on the sticky paths', () => {
    for (const kind of ['nginx-live-file', 'nginx-reload'] as const) {
      const site = renderSite(readFileSync(siteTemplate(kind), 'utf8'), siteValues(config({ SWITCH: kind, NGINX_SERVER_NAME: 'shop.example.com', NGINX_STICKY_PATHS: '/socket.io/ /live/' })));
      expect(site).toMatch(/map \$http_upgrade \$connection_upgrade \{\n\s+default upgrade;\n\s+''\s+'';\n\}/);
      expect(site).toContain('proxy_set_header Upgrade $http_upgrade;');
      expect(site).toContain('proxy_set_header Connection $connection_upgrade;');
      expect(site).not.toContain('proxy_set_header Connection "";\n        proxy_set_header Host');
      expect(site).toContain('server_name shop.example.com;');
      expect(site).toContain('if ($switchyard_shop_web_long_lived) { rewrite ^ /__switchyard/stream last; }');
      expect(site).toContain('proxy_pass http://${switchyard_upstream}_stream$request_uri;');
      expect(site).toContain('proxy_bind 127.0.0.2;');
      expect(site).toContain('proxy_read_timeout 1h;');
      expect(site).toContain('    ~^/socket\\.io/ 1;\n    ~^/live/ 1;\n}');
      expect(site).toContain('a /srv/shop/nginx/warm-a;');
      expect(site).toContain('add_header Set-Cookie $switchyard_shop_web_set_cookie;');
    }
    // Unix sockets have no source address to mark long-lived connections with.
    const socketSite = renderSite(readFileSync(siteTemplate('nginx-live-file'), 'utf8'), siteValues(config({ SLOT_LISTEN: 'socket' })));
    expect(socketSite).not.toContain('proxy_bind 127.0.0.2;');
    expect(socketSite).toContain('server_name _;');
  });

  it('uses the reload site for nginx-reload, with the health path in its check location', () => {
    const site = renderSite(readFileSync(siteTemplate('nginx-reload'), 'utf8'), siteValues(config({ SWITCH: 'nginx-reload', HEALTH_PATH: '/up' })));
    expect(site).not.toMatch(/\{\{/);
    expect(site).toContain('proxy_pass http://switchyard_shop_web/up;');
    expect(site).toContain('listen 80;');
  });

  it('refuses to leave a placeholder it has no value for', () => {
    expect(() => renderSite('listen {{LISTEN}}; {{NO_SUCH_VALUE}}', siteValues(config()))).toThrow(/placeholders without a value: NO_SUCH_VALUE/);
  });
});

describe('what nginx workers of another user can reach', () => {
  const nobody = { uid: 65534, gids: [65534], name: 'nobody' };
  const dir = (path: string, mode: number, uid = 0, gid = 0) => ({ dir: path, mode, uid, gid });

  it('names the first folder without search permission for them', () => {
    const dirs = [dir('/', 0o755), dir('/srv', 0o755), dir('/srv/shop', 0o700, 1000, 1000), dir('/srv/shop/nginx', 0o755, 1000, 1000)];
    expect(firstBlockedDir(dirs, nobody)?.dir).toBe('/srv/shop');
    expect(firstBlockedDir([dir('/', 0o755), dir('/srv/shop', 0o711, 1000, 1000)], nobody)).toBeUndefined();
    // Group search is enough for a worker in the folder's group (www-data in a 0750 root).
    expect(firstBlockedDir([dir('/srv/shop', 0o750, 1000, 33)], { uid: 33, gids: [33], name: 'www-data' })).toBeUndefined();
    expect(firstBlockedDir([dir('/srv/shop', 0o700, 1000, 1000)], { uid: 0, gids: [0], name: 'root' })).toBeUndefined();
  });
});

describe('the modes of DEPLOY_ROOT', () => {
  it('closes everything to others but the nginx folder, and leaves other owners alone', () => {
    const entries = [
      { path: '/srv/shop/slots', mode: 0o40755, uid: 1000, isDir: true },
      { path: '/srv/shop/state.json', mode: 0o100644, uid: 1000, isDir: false },
      { path: '/srv/shop/nginx', mode: 0o40700, uid: 1000, isDir: true },
      { path: '/srv/shop/run', mode: 0o40700, uid: 1000, isDir: true },
      { path: '/srv/shop/notes', mode: 0o40755, uid: 0, isDir: true },
    ];
    expect(plannedModes(entries, 1000, ['/srv/shop/nginx'])).toEqual([
      { path: '/srv/shop/slots', mode: 0o700 },
      { path: '/srv/shop/state.json', mode: 0o600 },
      { path: '/srv/shop/nginx', mode: 0o755 },
    ]);
  });
});
