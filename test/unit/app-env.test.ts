import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appEnvironment, parseAppEnv, parseAssignments, renderAppEnv, validateEnvKey } from '../../lib/config/app-env.ts';
import { editAppEnvFile, readAppEnvFile } from '../../lib/host/app-env-file.ts';
import { slotEnvironment } from '../../lib/slot/endpoints.ts';
import { parseSharedPaths, parseSize, resolveConfig } from '../../lib/config/config.ts';

describe('appEnvironment', () => {
  it('passes only PATH, HOME, LANG and LC_* from the caller, then APP_ENV_FILE, which may set PATH but not PORT/HOST/SWITCHYARD_SLOT', () => {
    const caller = { PATH: '/usr/bin', HOME: '/home/deploy', LANG: 'C.UTF-8', LC_ALL: 'C', FOO: 'leak', SSH_AUTH_SOCK: '/tmp/agent', DEPLOY_ENV_FILE: '/x', NODE_OPTIONS: '--inspect', SWITCHYARD_TEST_FAULT: 'kill@build', USER: 'deploy' };
    expect(appEnvironment(caller, { GREETING: 'hi', PORT: '1', HOST: 'x', SWITCHYARD_SLOT: 'z' })).toEqual({ PATH: '/usr/bin', HOME: '/home/deploy', LANG: 'C.UTF-8', LC_ALL: 'C', GREETING: 'hi' });
    expect(appEnvironment(caller, { PATH: '/opt/node/bin:/usr/bin' }).PATH).toBe('/opt/node/bin:/usr/bin');
    expect(appEnvironment({}, {})).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin' });
  });

  it('a slot adds its PORT, HOST and SWITCHYARD_SLOT last', () => {
    expect(slotEnvironment({ A: '1', PORT: '9' }, { endpoint: { kind: 'port', port: 3001, index: 0 }, host: '127.0.0.1', slot: 'a' })).toEqual({ A: '1', PORT: '3001', SWITCHYARD_INSTANCE: '1', HOST: '127.0.0.1', SWITCHYARD_SLOT: 'a' });
  });

  it('a socket slot gets the socket path as PORT and SWITCHYARD_SOCKET; a second instance says so', () => {
    expect(slotEnvironment({ SWITCHYARD_SOCKET: 'x' }, { endpoint: { kind: 'socket', path: '/srv/shop/sockets/b2.sock', index: 1 }, host: '127.0.0.1', slot: 'b' })).toEqual({
      PORT: '/srv/shop/sockets/b2.sock',
      SWITCHYARD_SOCKET: '/srv/shop/sockets/b2.sock',
      SWITCHYARD_INSTANCE: '2',
      HOST: '127.0.0.1',
      SWITCHYARD_SLOT: 'b',
    });
  });
});

describe('APP_ENV_FILE text', () => {
  it('renders values dotenv reads back exactly: quotes, #, $, spaces, = and newlines', () => {
    const values = { A: 'plain', B: 'two words # not a comment', C: "it's", D: 'say "hi" and it\'s', E: 'x=y=$HOME', F: 'line one\nline two', G: '' };
    expect(parseAppEnv(renderAppEnv(values))).toEqual(values);
  });

  it('validates names: shell/systemd-safe, and not the slot variables', () => {
    expect(validateEnvKey('DATABASE_URL')).toBeUndefined();
    expect(validateEnvKey('_x1')).toBeUndefined();
    expect(validateEnvKey('1X')).toMatch(/not a variable name/);
    expect(validateEnvKey('A-B')).toMatch(/not a variable name/);
    expect(validateEnvKey('PORT')).toMatch(/set by Switchyard/);
    expect(parseAssignments(['A=1', 'B=x=y', 'C='])).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(() => parseAssignments(['A', '=1', 'HOST=x'])).toThrow(/"A" is not KEY=VALUE; "=1" is not KEY=VALUE; HOST is set by Switchyard/);
  });

  it('editAppEnvFile creates the file 0600, sets and unsets in one write, and says what changed', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-appenv-'));
    const config = resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: root }, env: {}, envFile: path.join(root, '.env') });
    expect(config.appEnvFile).toBe(path.join(root, 'shared', 'app.env'));
    expect(editAppEnvFile(config, { set: { A: '1', B: '2' } })).toEqual(['A', 'B']);
    expect(statSync(config.appEnvFile).mode & 0o777).toBe(0o600);
    expect(editAppEnvFile(config, { set: { A: '1' } })).toEqual([]);
    expect(editAppEnvFile(config, { set: { C: '3' }, unset: ['A'] })).toEqual(['A', 'C']);
    expect(readAppEnvFile(config)).toEqual({ B: '2', C: '3' });
    writeFileSync(config.appEnvFile, 'export D="quoted value"\n# comment\nE=plain # trailing\n');
    expect(readAppEnvFile(config)).toEqual({ D: 'quoted value', E: 'plain' });
    expect(readFileSync(config.appEnvFile, 'utf8')).toContain('export D');
    rmSync(root, { recursive: true, force: true });
  });

  it('editAppEnvFile on a symlinked APP_ENV_FILE edits the file it points to, keeps the link and the mode (less other users)', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-appenv-link-'));
    const central = path.join(root, 'central', 'shop.env');
    mkdirSync(path.dirname(central), { recursive: true });
    writeFileSync(central, 'DATABASE_URL=old\n', { mode: 0o644 });
    chmodSync(central, 0o644);
    const link = path.join(root, 'app.env');
    symlinkSync(central, link);
    const config = resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: root, APP_ENV_FILE: link }, env: {}, envFile: path.join(root, '.env') });
    expect(editAppEnvFile(config, { set: { API_TOKEN: 'tok-1234' } })).toEqual(['API_TOKEN']);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(central);
    expect(parseAppEnv(readFileSync(central, 'utf8'))).toEqual({ DATABASE_URL: 'old', API_TOKEN: 'tok-1234' });
    expect(statSync(central).mode & 0o777).toBe(0o640);
    // The secret rotated centrally reaches the app through the link.
    writeFileSync(central, 'DATABASE_URL=rotated\nAPI_TOKEN=tok-1234\n');
    expect(readAppEnvFile(config).DATABASE_URL).toBe('rotated');
    rmSync(root, { recursive: true, force: true });
  });
});

describe('config: SHARED_PATHS, LOG_MAX_SIZE, LOG_KEEP', () => {
  it('parses SHARED_PATHS: folders end with /, ./ is dropped; absolute, .., .git and overlaps are refused', () => {
    const problems: string[] = [];
    expect(parseSharedPaths(' .env  uploads/ ./storage/app/ config/local.json ', problems)).toEqual([
      { path: '.env', dir: false },
      { path: 'uploads', dir: true },
      { path: 'storage/app', dir: true },
      { path: 'config/local.json', dir: false },
    ]);
    expect(problems).toEqual([]);
    parseSharedPaths('/etc/passwd ../up a/../b .git/hooks/ ./ storage/ storage/logs/', problems);
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/"\/etc\/passwd"[\s\S]*"\.\.\/up"[\s\S]*"a\/\.\.\/b"[\s\S]*"\.git\/hooks\/"[\s\S]*"\.\/"[\s\S]*overlap/);
  });

  it('reads sizes with K, M, G and refuses bad LOG_MAX_SIZE / LOG_KEEP by name', () => {
    expect(parseSize('10M')).toBe(10 * 1024 * 1024);
    expect(parseSize('500k')).toBe(500 * 1024);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('2048')).toBe(2048);
    expect(parseSize('ten')).toBeUndefined();
    const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop' };
    const config = resolveConfig({ fileValues: base, env: {}, envFile: '/srv/.env' });
    expect([config.logMaxBytes, config.logKeep, config.sharedPaths]).toEqual([10 * 1024 * 1024, 5, []]);
    expect(() => resolveConfig({ fileValues: { ...base, LOG_MAX_SIZE: '10 megs', LOG_KEEP: '0', SHARED_PATHS: '../x' }, env: {}, envFile: '/srv/.env' })).toThrow(/SHARED_PATHS entries must be relative.*LOG_MAX_SIZE must be a size.*LOG_KEEP must be a whole number of at least 1/);
    expect(resolveConfig({ fileValues: { ...base, APP_ENV_FILE: 'app.env' }, env: {}, envFile: '/srv/conf/.env' }).appEnvFile).toBe('/srv/conf/app.env');
  });
});
