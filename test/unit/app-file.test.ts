import { describe, expect, it } from 'vitest';
import { defaultInitEnvFile, selectApp } from '../../lib/config/app-file.ts';
import { conflictingClaims, normalizeListen } from '../../lib/setup/doctor/sites.ts';

describe('--app NAME', () => {
  const exists = (file: string) => file === '/opt/switchyard/apps/shop.env';
  it('takes a leading --app off argv and points DEPLOY_ENV_FILE at apps/NAME.env', () => {
    expect(selectApp(['--app', 'shop', 'deploy', 'v2'], {}, '/opt/switchyard', exists)).toEqual({ argv: ['deploy', 'v2'], env: { DEPLOY_ENV_FILE: '/opt/switchyard/apps/shop.env', SWITCHYARD_APP: 'shop' } });
    expect(selectApp(['--app=shop', 'status'], {}, '/opt/switchyard', exists)).toMatchObject({ argv: ['status'] });
    expect(selectApp(['status'], { X: '1' }, '/opt/switchyard', exists)).toEqual({ argv: ['status'], env: { X: '1' } });
  });
  it('refuses a missing file (but init writes it), a bad name, and a DEPLOY_ENV_FILE that says otherwise', () => {
    expect(selectApp(['--app', 'blog', 'deploy'], {}, '/opt/switchyard', exists)).toMatchObject({ error: expect.stringMatching(/^no configuration for app blog: \/opt\/switchyard\/apps\/blog\.env does not exist; nothing was changed; /) });
    expect(selectApp(['--app', 'blog', 'init'], {}, '/opt/switchyard', exists)).toMatchObject({ argv: ['init'] });
    expect(selectApp(['--app', '../x', 'deploy'], {}, '/opt/switchyard', exists)).toMatchObject({ error: expect.stringMatching(/^--app needs an app name/) });
    expect(selectApp(['--app'], {}, '/opt/switchyard', exists)).toMatchObject({ error: expect.stringMatching(/^--app needs an app name/) });
    expect(selectApp(['--app', 'shop', 'deploy'], { DEPLOY_ENV_FILE: '/etc/other.env' }, '/opt/switchyard', exists)).toMatchObject({ error: expect.stringMatching(/but DEPLOY_ENV_FILE is set/) });
  });
  it('init writes .env for the first app, apps/NAME.env for another', () => {
    const files: Record<string, string> = { '/opt/switchyard/.env': 'APP_NAME=shop\n' };
    const read = (file: string) => files[file];
    expect(defaultInitEnvFile('/opt/switchyard', 'shop', read)).toBe('/opt/switchyard/.env');
    expect(defaultInitEnvFile('/opt/switchyard', 'blog', read)).toBe('/opt/switchyard/apps/blog.env');
    expect(defaultInitEnvFile('/opt/switchyard', 'blog', () => undefined)).toBe('/opt/switchyard/.env');
    expect(defaultInitEnvFile('/opt/switchyard', undefined, read)).toBe('/opt/switchyard/.env');
  });
});

describe('sites that claim the same name and port', () => {
  const dump = (blogName: string, blogListen = '80') => [
    '# configuration file /etc/nginx/nginx.conf:',
    'http { include /etc/nginx/sites-enabled/*; }',
    '# configuration file /etc/nginx/sites-enabled/shop:',
    'include /srv/shop/nginx/upstream.conf;',
    'server {\n    listen 80;\n    server_name shop.example.com;\n    location / { if ($x) { rewrite ^ /y last; } }\n}',
    '# configuration file /srv/shop/nginx/upstream.conf:',
    'upstream switchyard_shop { server 127.0.0.1:3001; }',
    '# configuration file /etc/nginx/sites-enabled/blog:',
    `server {\n    listen ${blogListen} default_server;\n    server_name ${blogName};  # the blog\n}`,
  ].join('\n');
  it('names the other site when it claims one of our names on one of our ports, nothing otherwise', () => {
    expect(conflictingClaims(dump('blog.example.com shop.example.com'), 'include /srv/shop/nginx/upstream.conf;')).toEqual(['/etc/nginx/sites-enabled/blog claims shop.example.com on *:80 too']);
    expect(conflictingClaims(dump('blog.example.com'), 'include /srv/shop/nginx/upstream.conf;')).toEqual([]);
    expect(conflictingClaims(dump('shop.example.com', '8080'), 'include /srv/shop/nginx/upstream.conf;')).toEqual([]);
    expect(conflictingClaims(dump('shop.example.com', '127.0.0.1:80'), 'include /srv/shop/nginx/upstream.conf;')).toEqual(['/etc/nginx/sites-enabled/blog claims shop.example.com on *:80 too']);
  });
  it('normalizes listen values', () => {
    expect(['80', '127.0.0.1:8080', '[::]:80', 'localhost'].map(normalizeListen)).toEqual(['*:80', '127.0.0.1:8080', '[::]:80', 'localhost:80']);
  });
});
