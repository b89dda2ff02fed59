import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_TS } from '../../harness/host.ts';
import { selectApp } from '../../lib/config/app-file.ts';
import { resolveConfig } from '../../lib/config/config.ts';

/**
 * Issue 32 items 5 and 6: every value that reaches a file nginx parses (the site: NGINX_UPSTREAM_FILE,
 * NGINX_LIVE_DIR, HEALTH_PATH, and APP_NAME through the group names) follows a strict grammar, and an
 * app name is never option-looking, in the .env as with `--app`.
 */
const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop' };
const resolve = (values: Record<string, string>) => () => resolveConfig({ fileValues: { ...base, ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });

describe('values that reach the nginx site', () => {
  it('refuses an upstream file or live folder nginx would read as more than a path, naming the key, what it expects and what it got', () => {
    const expected = "must be an absolute path of letters, digits, '.', '_', '-' and '/' with no '.' or '..' step";
    for (const bad of ['/etc/nginx/x.conf; access_log /etc/sudoers.d/x', '/etc/nginx/x.conf;access_log', '/etc/nginx/*.conf', '/srv/$shop/up.conf', '/srv/shop/../etc/up.conf', 'nginx/../../etc/up.conf', '/srv/{shop}/up.conf', '/srv/shop/up.conf#', '/srv/sh"op/up.conf', "/srv/sh'op/up.conf", '/srv/sh\\op/up.conf']) {
      expect(resolve({ NGINX_UPSTREAM_FILE: bad }), bad).toThrow(`NGINX_UPSTREAM_FILE ${expected} (nginx reads it in the site); got ${JSON.stringify(bad)}`);
      expect(resolve({ NGINX_LIVE_DIR: bad }), bad).toThrow(`NGINX_LIVE_DIR ${expected}`);
    }
    // A relative value is checked as the path it resolves to, and the message shows both.
    expect(resolve({ NGINX_UPSTREAM_FILE: 'up stream.conf' })).toThrow('NGINX_UPSTREAM_FILE must be an absolute path of letters, digits, \'.\', \'_\', \'-\' and \'/\' with no \'.\' or \'..\' step (nginx reads it in the site); got "up stream.conf" (/etc/switchyard/up stream.conf)');
    // The defaults come from DEPLOY_ROOT: the message says so.
    expect(resolve({ DEPLOY_ROOT: '/srv/my shop' })).toThrow('got "/srv/my shop/nginx/upstream.conf" (its default, DEPLOY_ROOT/nginx/upstream.conf)');
    expect(resolve({ DEPLOY_ROOT: '/srv/my shop', SWITCH: 'passive' })).toThrow(/NGINX_LIVE_DIR must be .*got "\/srv\/my shop\/nginx" \(its default, the folder of NGINX_UPSTREAM_FILE\)/);
    // Without an nginx site there is nothing for nginx to read.
    expect(resolve({ DEPLOY_ROOT: '/srv/my shop', SWITCH: 'command', SWITCH_CMD: 'true' })()).toMatchObject({ switchKind: 'command' });
    const good = resolve({ NGINX_UPSTREAM_FILE: '/etc/nginx/switchyard/shop-2_b.v1.conf', NGINX_LIVE_DIR: '/srv/shop/nginx' })();
    expect(good.nginx).toMatchObject({ upstreamFile: '/etc/nginx/switchyard/shop-2_b.v1.conf', liveDir: '/srv/shop/nginx' });
  });

  it('refuses a HEALTH_PATH the site could not carry as one URL', () => {
    for (const bad of ['/h;}', '/h;access_log', '/h{', '/h#', '/$host', "/h'", '/h"', '/h\\x', '/h x', 'health']) {
      expect(resolve({ HEALTH_PATH: bad }), bad).toThrow(`HEALTH_PATH must start with / and hold only letters, digits and . _ ~ / % ? = & + , : @ ! - (it goes into the nginx site); got ${JSON.stringify(bad)}`);
    }
    expect(resolve({ HEALTH_PATH: '/api/health?full=1&x=%20' })().healthPath).toBe('/api/health?full=1&x=%20');
  });

  it('refuses option-looking app names in the .env and with --app', () => {
    for (const bad of ['-rf', '--help', '-', '_x', '.x', 'a..b']) {
      expect(resolve({ APP_NAME: bad }), bad).toThrow(`APP_NAME must`);
      for (const argv of [['--app', bad, 'deploy'], [`--app=${bad}`, 'deploy'], ['--app', bad, 'init']]) {
        expect(selectApp(argv, {}, '/opt/switchyard', () => true), argv.join(' ')).toEqual({ error: `--app needs an app name (letters, digits, . _ -, starting with a letter or digit) before the command, as in ./deploy.ts --app shop deploy; got ${JSON.stringify(bad)}; nothing was changed` });
      }
    }
    expect(resolve({ APP_NAME: 'my.shop-2_b' })().appName).toBe('my.shop-2_b');
  });
});

describe('./deploy.ts nginx-site with a value nginx would read as configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'config-nginx-paths-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints no site: one error line naming the key, exit 1', async () => {
    const target = path.join(dir, 'pwned');
    const envFile = path.join(dir, 'shop.env');
    writeFileSync(envFile, `APP_NAME=shop\nREPO=${dir}/repo\nDEPLOY_ROOT=${dir}/srv\nNGINX_UPSTREAM_FILE="${dir}/up.conf; access_log ${target}"\n`);
    const result = await execa(DEPLOY_TS, ['nginx-site'], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1' }, reject: false });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stdout).toBe('');
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors, result.stderr).toHaveLength(1);
    expect(errors[0]).toContain(`NGINX_UPSTREAM_FILE must be an absolute path of letters, digits, '.', '_', '-' and '/' with no '.' or '..' step (nginx reads it in the site); got "${dir}/up.conf; access_log ${target}"`);
    expect(existsSync(target)).toBe(false);
  }, 60_000);
});
