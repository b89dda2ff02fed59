import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, KNOWN_KEYS } from '../lib/config/keys.ts';
import { duplicateKeys, resolveConfig, suggestKey } from '../lib/config/config.ts';
import { parseDuration } from '../lib/config/duration.ts';

const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop' };
const settings = (fileValues: Record<string, string>, env: Record<string, string> = {}) => ({ fileValues, env, envFile: '/etc/switchyard/shop.env' });

describe('configuration', () => {
  it('fills in every documented default', () => {
    const config = resolveConfig(settings(base));
    expect(config.ports).toEqual({ a: 3001, b: 3002 });
    expect(config.branch).toBe('main');
    expect(config.host).toBe('127.0.0.1');
    expect(config.installCmd).toBe('npm ci');
    expect(config.buildCmd).toBe('npm run build --if-present');
    expect(config.startCmd).toBe('npm start');
    expect(config.healthPath).toBe('/health');
    expect(config.healthTimeoutMs).toBe(30_000);
    expect(config.stopTimeoutMs).toBe(30_000);
    expect(config.switchKind).toBe('nginx-live-file');
    expect(config.nginx.listen).toBe('80');
    expect(config.nginx.checkUrl).toBe('http://127.0.0.1/__switchyard/health');
    expect(config.nginx.liveDir).toBe('/srv/shop/nginx');
    expect(config.notices).toEqual([]);
    expect(config.nginx.upstreamFile).toBe('/srv/shop/nginx/upstream.conf');
    expect(config.nginx.testCmd).toBe('sudo -n nginx -t');
  });

  it('lets the environment override the file', () => {
    const config = resolveConfig(settings({ ...base, PORT_A: '4001' }, { PORT_A: '5001', HEALTH_TIMEOUT: '500ms' }));
    expect(config.ports.a).toBe(5001);
    expect(config.healthTimeoutMs).toBe(500);
  });

  it('names every bad key at once', () => {
    const call = () =>
      resolveConfig(settings({ APP_NAME: '../evil', DEPLOY_ROOT: '/srv/x', PORT_A: '70000', PORT_B: 'abc', HEALTH_TIMEOUT: 'soon', SWITCH: 'haproxy' }));
    expect(call).toThrow(/REPO is required/);
    expect(call).toThrow(/APP_NAME must be/);
    expect(call).toThrow(/PORT_A must be a port number 1-65535; got "70000"/);
    expect(call).toThrow(/PORT_B must be a port number/);
    expect(call).toThrow(/HEALTH_TIMEOUT must be a duration/);
    expect(call).toThrow(/SWITCH must be nginx-live-file, nginx-reload, passive, command, none; got "haproxy"/);
  });

  it('refuses equal ports, names with slashes, newlines or NUL, and an option as REPO', () => {
    expect(() => resolveConfig(settings({ ...base, PORT_A: '3005', PORT_B: '3005' }))).toThrow(/PORT_A and PORT_B must differ/);
    for (const name of ['a/b', '/abs', 'a\nb', 'a\0b', '..', '.hidden']) {
      expect(() => resolveConfig(settings({ ...base, APP_NAME: name }))).toThrow(/APP_NAME must be/);
    }
    expect(() => resolveConfig(settings({ ...base, REPO: '--upload-pack=touch /tmp/x' }))).toThrow(/REPO must be a git URL or a path/);
  });

  it('reports unknown keys and suggests the likely one', () => {
    const config = resolveConfig(settings({ ...base, HELTH_PATH: '/up', FOO: '1' }));
    expect(config.unknownKeys).toEqual(['HELTH_PATH', 'FOO']);
    expect(suggestKey('HELTH_PATH')).toBe('HEALTH_PATH');
    expect(suggestKey('FOO')).toBeUndefined();
  });

  it('resolves relative paths against the env file and collects secrets to redact', () => {
    const config = resolveConfig(settings({ ...base, DEPLOY_ROOT: 'root', REPO: 'https://deploy:s3cr3t-token@git.example.com/shop.git', NOTIFY_TOKEN: 'abcd1234' }));
    expect(config.deployRoot).toBe('/etc/switchyard/root');
    expect(config.secrets).toEqual(['abcd1234', 's3cr3t-token', 'deploy:s3cr3t-token']);
    expect(resolveConfig({ ...settings(base), env: { SENTRY_TOKEN: 'from-the-environment' } }).secrets).toContain('from-the-environment');
  });

  it('keeps the old SWITCH=nginx working as nginx-reload, and says so', () => {
    const config = resolveConfig(settings({ ...base, SWITCH: 'nginx' }));
    expect(config.switchKind).toBe('nginx-reload');
    expect(config.notices.join('\n')).toMatch(/SWITCH=nginx is the old name of SWITCH=nginx-reload/);
  });

  it('derives the check URL from NGINX_LISTEN, and refuses a listen that is not a port', () => {
    const checkUrl = (listen: string) => resolveConfig(settings({ ...base, NGINX_LISTEN: listen })).nginx.checkUrl;
    expect(checkUrl('8080')).toBe('http://127.0.0.1:8080/__switchyard/health');
    expect(checkUrl('127.0.0.1:8080')).toBe('http://127.0.0.1:8080/__switchyard/health');
    expect(checkUrl('0.0.0.0:80')).toBe('http://127.0.0.1/__switchyard/health');
    expect(checkUrl('*:8081')).toBe('http://127.0.0.1:8081/__switchyard/health');
    expect(checkUrl('[::]:8080')).toBe('http://[::1]:8080/__switchyard/health');
    expect(checkUrl('[::1]:80')).toBe('http://[::1]/__switchyard/health');
    expect(resolveConfig(settings({ ...base, NGINX_LISTEN: '8080', NGINX_CHECK_URL: 'http://10.0.0.1:81/x' })).nginx.checkUrl).toBe('http://10.0.0.1:81/x');
    for (const listen of ['80 default_server', 'http', '70000', ':80']) {
      expect(() => resolveConfig(settings({ ...base, NGINX_LISTEN: listen })), listen).toThrow(/NGINX_LISTEN must be a port or address:port/);
    }
  });

  it('treats a password or an http(s) token in REPO as secret, never a plain ssh login', () => {
    const secretsOf = (repo: string) => resolveConfig(settings({ ...base, REPO: repo })).secrets;
    expect(secretsOf('ssh://deploy@git.example.com/shop.git')).toEqual([]);
    expect(secretsOf('https://ghp_abcdef123456@github.com/shop.git')).toEqual(['ghp_abcdef123456']);
    expect(secretsOf('ssh://deploy:hunter22@git.example.com/shop.git')).toEqual(['hunter22', 'deploy:hunter22']);
  });

  it('refuses a system folder as DEPLOY_ROOT and warns about a key set twice', () => {
    for (const root of ['/', '/etc', '/run', '/var/lib', '/tmp/']) {
      expect(() => resolveConfig(settings({ ...base, DEPLOY_ROOT: root })), root).toThrow(/DEPLOY_ROOT must be a folder of its own such as \/srv\/shop, not the system folder/);
    }
    expect(resolveConfig(settings({ ...base, DEPLOY_ROOT: '/srv/shop' })).deployRoot).toBe('/srv/shop');
    const text = 'APP_NAME=shop\nPORT_A=4001\n# PORT_A=9\nexport PORT_A=4002\n';
    expect(duplicateKeys(text)).toEqual(['PORT_A is set 2 times (lines 2, 4); the last one, line 4, is used']);
    expect(resolveConfig({ ...settings(base), duplicates: duplicateKeys(text) }).notices).toEqual([
      'PORT_A is set 2 times (lines 2, 4); the last one, line 4, is used in /etc/switchyard/shop.env',
    ]);
  });

  it('parses durations in seconds or with units', () => {
    expect(parseDuration('30')).toBe(30_000);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('-1')).toBeUndefined();
  });

  it('.env.example documents every key with its default', () => {
    const lines = readFileSync(new URL('../.env.example', import.meta.url), 'utf8').split('\n');
    const documented = new Map<string, string>();
    lines.forEach((line, index) => {
      const match = /^([A-Z][A-Z0-9_]*)=/.exec(line);
      if (!match) return;
      let start = index;
      while (start > 0 && lines[start - 1].startsWith('#')) start--;
      documented.set(match[1], lines.slice(start, index).join(' '));
    });
    expect([...documented.keys()].sort()).toEqual([...KNOWN_KEYS].sort());
    for (const key of KNOWN_KEYS) {
      const spec = CONFIG_KEYS[key] as { default?: string; required?: boolean };
      const comment = documented.get(key) ?? '';
      if (spec.required) expect(comment, key).toContain('Required');
      else expect(comment, key).toMatch(/Default/);
      if (spec.default) expect(comment, `${key} default`).toContain(spec.default);
    }
  });
});
