import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../lib/config/config.ts';
import { plannedModes } from '../lib/host/deploy-root.ts';
import { renderSite, siteTemplate, siteValues } from '../lib/traffic/nginx-site.ts';
import { firstBlockedDir } from '../lib/traffic/nginx-access.ts';

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

  it('uses the reload site for nginx-reload, with the health path in its check location', () => {
    const site = renderSite(readFileSync(siteTemplate('nginx-reload'), 'utf8'), siteValues(config({ SWITCH: 'nginx-reload', HEALTH_PATH: '/up' })));
    expect(site).not.toMatch(/\{\{/);
    expect(site).toContain('proxy_pass http://switchyard_shop_web/up;');
    expect(site).toContain('listen 80;');
  });

  it('refuses to leave a placeholder it has no value for', () => {
    expect(() => renderSite('listen {{LISTEN}}; {{SERVER_NAME}}', siteValues(config()))).toThrow(/placeholders without a value: SERVER_NAME/);
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
