import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../lib/slot/endpoints.ts';
import { parseLiveAddress, parseLiveSlot, renderUpstream, upstreamName } from '../../lib/traffic/upstream.ts';

const port = (number: number, index = 0): Endpoint => ({ kind: 'port', port: number, index });
const socket = (file: string, index = 0): Endpoint => ({ kind: 'socket', path: file, index });

describe('nginx upstream rendering', () => {
  it('lists the live slot first and the other as backup, never marking either down', () => {
    const text = renderUpstream({ kind: 'live', appName: 'my-app', host: '127.0.0.1', live: { slot: 'b', endpoints: [port(3002)], commit: 'abcdef1234567890' }, standby: { slot: 'a', endpoints: [port(3001)] } });
    expect(text).toContain('upstream switchyard_my_app {');
    expect(text).toContain('# live: slot b at abcdef123456');
    const servers = text.split('\n').filter((line) => line.trim().startsWith('server '));
    expect(servers.map((line) => line.trim().replace(/\s+#.*/, ''))).toEqual(['server 127.0.0.1:3002 max_fails=0;', 'server 127.0.0.1:3001 max_fails=0 backup;']);
    expect(text).toContain('keepalive 32;');
    expect(text).toMatch(/keepalive_timeout 1s;/);
    expect(parseLiveAddress(text)).toBe('127.0.0.1:3002');
    expect(parseLiveSlot({ slotListen: 'port', instances: 1, ports: { a: 3001, b: 3002 }, socketDir: '/x' }, text)).toBe('b');
    expect(parseLiveSlot({ slotListen: 'port', instances: 1, ports: { a: 4001, b: 4002 }, socketDir: '/x' }, text)).toBeNull();
  });

  it('renders the passive layout with both ports and no backup', () => {
    const text = renderUpstream({ kind: 'passive', appName: 'shop', host: '127.0.0.1', servers: [port(3001), port(3002)] });
    expect(text).toMatch(/server 127\.0\.0\.1:3001 max_fails=0;\n\s+server 127\.0\.0\.1:3002 max_fails=0;/);
    expect(text).not.toContain('backup');
  });

  it('brackets IPv6 hosts and makes a valid nginx identifier from the app name', () => {
    expect(renderUpstream({ kind: 'live', appName: 'a.b', host: '::1', live: { slot: 'a', endpoints: [port(3001)] } })).toContain('server [::1]:3001 max_fails=0;');
    expect(upstreamName('web.shop-2')).toBe('switchyard_web_shop_2');
  });

  it('reads back no port from a file that is not ours', () => {
    expect(parseLiveAddress('# nothing here\n')).toBeUndefined();
  });

  it('lists every instance of a slot, and the other slot\'s as backups, in each live-file group', () => {
    const text = renderUpstream({ kind: 'per-slot', appName: 'shop', host: '127.0.0.1', slots: { a: [port(3001), port(3002, 1)], b: [port(3011), port(3012, 1)] } });
    const group = (name: string) => text.slice(text.indexOf(`upstream ${name} {`)).split('}')[0].split('\n').filter((line) => line.trim().startsWith('server ')).map((line) => line.trim());
    expect(group('switchyard_shop_a')).toEqual(['server 127.0.0.1:3001 max_fails=0;', 'server 127.0.0.1:3002 max_fails=0;', 'server 127.0.0.1:3011 max_fails=0 backup;', 'server 127.0.0.1:3012 max_fails=0 backup;']);
    expect(group('switchyard_shop_b')).toEqual(['server 127.0.0.1:3011 max_fails=0;', 'server 127.0.0.1:3012 max_fails=0;', 'server 127.0.0.1:3001 max_fails=0 backup;', 'server 127.0.0.1:3002 max_fails=0 backup;']);
  });

  it('points at unix sockets with unix: addresses, and reads the live slot back from them', () => {
    const text = renderUpstream({ kind: 'live', appName: 'shop', host: '127.0.0.1', live: { slot: 'b', endpoints: [socket('/srv/shop/sockets/b1.sock')] }, standby: { slot: 'a', endpoints: [socket('/srv/shop/sockets/a1.sock')] } });
    expect(text).toContain('server unix:/srv/shop/sockets/b1.sock max_fails=0;');
    expect(text).toContain('server unix:/srv/shop/sockets/a1.sock max_fails=0 backup;');
    expect(parseLiveSlot({ slotListen: 'socket', instances: 1, ports: { a: 3001, b: 3002 }, socketDir: '/srv/shop/sockets' }, text)).toBe('b');
  });
});

describe('the long-lived groups and the session map', () => {
  const port = (n: number, index = 0) => ({ kind: 'port' as const, port: n, index });
  it('gives every group a _stream twin without keepalive, a group per slot, and maps the answering address to its slot', () => {
    const streams = { a: [port(3001)], b: [port(3002)] };
    const text = renderUpstream({ kind: 'live', appName: 'shop', host: '127.0.0.1', live: { slot: 'b', endpoints: [port(3002)] }, standby: { slot: 'a', endpoints: [port(3001)] }, streams });
    expect(text).toContain('upstream switchyard_shop_stream {\n    server 127.0.0.1:3002 max_fails=0;\n    server 127.0.0.1:3001 max_fails=0 backup;\n}');
    expect(text).toContain('upstream switchyard_shop_a {\n    server 127.0.0.1:3001 max_fails=0;\n    server 127.0.0.1:3002 max_fails=0 backup;\n    keepalive 32;');
    expect(text).toContain('upstream switchyard_shop_b_stream {\n    server 127.0.0.1:3002 max_fails=0;\n    server 127.0.0.1:3001 max_fails=0 backup;\n}');
    expect(text).toContain('map $upstream_addr $switchyard_shop_served {');
    expect(text).toContain('"~(^|[ ,])127\\.0\\.0\\.1:3002$" b;');
    // The live-file layout has its per-slot groups already: only their twins are added.
    const perSlot = renderUpstream({ kind: 'per-slot', appName: 'shop', host: '127.0.0.1', slots: streams, streams });
    expect(perSlot.match(/upstream switchyard_shop_a \{/g)).toHaveLength(1);
    expect(perSlot).toContain('upstream switchyard_shop_a_stream {');
    expect(perSlot).toContain('upstream switchyard_shop_stream {');
  });
});

