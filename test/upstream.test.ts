import { describe, expect, it } from 'vitest';
import { parseLivePort, renderUpstream, upstreamName } from '../lib/switch/upstream.ts';

describe('nginx upstream rendering', () => {
  it('lists the live slot first and the other as backup, never marking either down', () => {
    const text = renderUpstream({ kind: 'live', appName: 'my-app', host: '127.0.0.1', live: { slot: 'b', port: 3002, commit: 'abcdef1234567890' }, standby: { slot: 'a', port: 3001 } });
    expect(text).toContain('upstream switchyard_my_app {');
    expect(text).toContain('# live: slot b at abcdef123456');
    const servers = text.split('\n').filter((line) => line.trim().startsWith('server '));
    expect(servers.map((line) => line.trim().replace(/\s+#.*/, ''))).toEqual(['server 127.0.0.1:3002 max_fails=0;', 'server 127.0.0.1:3001 max_fails=0 backup;']);
    expect(text).toContain('keepalive 32;');
    expect(text).toMatch(/keepalive_timeout 1s;/);
    expect(parseLivePort(text)).toBe(3002);
  });

  it('renders the passive layout with both ports and no backup', () => {
    const text = renderUpstream({ kind: 'passive', appName: 'shop', host: '127.0.0.1', ports: [3001, 3002] });
    expect(text).toMatch(/server 127\.0\.0\.1:3001 max_fails=0;\n\s+server 127\.0\.0\.1:3002 max_fails=0;/);
    expect(text).not.toContain('backup');
  });

  it('brackets IPv6 hosts and makes a valid nginx identifier from the app name', () => {
    expect(renderUpstream({ kind: 'live', appName: 'a.b', host: '::1', live: { slot: 'a', port: 3001 } })).toContain('server [::1]:3001 max_fails=0;');
    expect(upstreamName('web.shop-2')).toBe('switchyard_web_shop_2');
  });

  it('reads back no port from a file that is not ours', () => {
    expect(parseLivePort('# nothing here\n')).toBeUndefined();
  });
});
