import { execa } from 'execa';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { helperInstallArgv } from '../../lib/traffic/nginx-helper.ts';
import { helperSetupCommand } from '../../lib/traffic/nginx-helper-setup.ts';
import { renderUpstream, type UpstreamLayout } from '../../lib/traffic/upstream.ts';
import { installHelper } from '../../harness/nginx-helper.ts';

describe('switchyard-nginx-helper', () => {
  let dir: string;
  let helper: string;
  let upstreamDir: string;
  const run = (args: string[]) => execa(helper, args, { reject: false, all: true });

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('the helper runs as root only: run this test as root (CI does)');
    dir = mkdtempSync(path.join(os.tmpdir(), 'security-helper-'));
    ({ helper, upstreamDir } = installHelper(dir, { nginx: '/bin/true', reload: 'true' }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // As the switches render it: with both slots' long-lived groups (lib/traffic/long-lived.ts), which a live layout without a standby cannot have.
  const streams = (layout: UpstreamLayout): UpstreamLayout =>
    layout.kind === 'per-slot' ? { ...layout, streams: layout.slots } : layout.kind === 'live' && layout.standby ? { ...layout, streams: { [layout.live.slot]: layout.live.endpoints, [layout.standby.slot]: layout.standby.endpoints } as Record<'a' | 'b', never> } : layout;
  const layouts: UpstreamLayout[] = (<UpstreamLayout[]>[
    { kind: 'per-slot', appName: 'shop', host: '127.0.0.1', slots: { a: [{ kind: 'port', port: 3001, index: 1 }], b: [{ kind: 'port', port: 3002, index: 1 }] } },
    { kind: 'per-slot', appName: 'my.app-2', host: 'localhost', slots: { a: [{ kind: 'socket', path: '/srv/my.app/sockets/a1.sock', index: 1 }], b: [{ kind: 'port', port: 3002, index: 1 }] } },
    { kind: 'per-slot', appName: 'my-app', host: '::1', slots: { a: [{ kind: 'port', port: 3001, index: 1 }, { kind: 'port', port: 3003, index: 1 }], b: [{ kind: 'port', port: 3002, index: 1 }, { kind: 'port', port: 3004, index: 1 }] } },
    { kind: 'live', appName: 'shop', host: '127.0.0.1', live: { slot: 'b', endpoints: [{ kind: 'port', port: 3002, index: 1 }], commit: '0123456789abcdef0123' }, standby: { slot: 'a', endpoints: [{ kind: 'port', port: 3001, index: 1 }] } },
    { kind: 'live', appName: 'shop', host: '127.0.0.1', live: { slot: 'a', endpoints: [{ kind: 'socket', path: '/srv/shop/sockets/a1.sock', index: 1 }] } },
  ]).map(streams);

  it('writes byte for byte what renderUpstream renders, from slot names and addresses only, and says when nothing changed', async () => {
    for (const layout of layouts) {
      const argv = helperInstallArgv([helper], layout);
      const first = await run(argv.slice(1));
      expect(first.exitCode, first.all).toBe(0);
      expect(first.stdout).toBe('changed');
      expect(readFileSync(path.join(upstreamDir, `${layout.appName}.conf`), 'utf8')).toBe(renderUpstream(layout));
      expect((await run(argv.slice(1))).stdout).toBe('unchanged');
    }
    expect((await run(['path', 'shop'])).stdout).toBe(path.join(upstreamDir, 'shop.conf'));
  });

  it('refuses anything but its own inputs: no configuration text, file name or nginx argument gets through', async () => {
    const refused = [
      ['install', 'shop', 'per-slot', '127.0.0.1:3001;} server { access_log /etc/sudoers.d/x', '127.0.0.1:3002'],
      ['install', 'shop', 'per-slot', '127.0.0.1:3001', 'unix:/tmp/x.sock max_fails=0; include /tmp/evil'],
      ['install', 'shop', 'per-slot', '127.0.0.1:99999', '127.0.0.1:3002'],
      ['install', 'shop', 'per-slot', 'unix:/srv/../etc/x.sock', '127.0.0.1:3002'],
      ['install', '../../etc/nginx/nginx', 'per-slot', '127.0.0.1:3001', '127.0.0.1:3002'],
      ['install', 'shop', 'live', 'c', '127.0.0.1:3001', '-', '-'],
      ['install', 'shop', 'live', 'a', '127.0.0.1:3001', '-', '-', 'abc;def'],
      ['install', 'shop', 'per-slot', '127.0.0.1:3001', '127.0.0.1:3002', '-c', '/tmp/evil.conf'],
      ['test', 'shop', '-c', '/tmp/evil.conf'],
      ['reload', 'shop', '-c', '/tmp/evil.conf'],
    ];
    const before = readFileSync(path.join(upstreamDir, 'shop.conf'), 'utf8');
    for (const args of refused) {
      const result = await run(args);
      expect(result.exitCode, `${args.join(' ')}: ${result.all}`).toBe(2);
      expect(result.stderr).toMatch(/^switchyard-nginx-helper: /);
    }
    expect(readFileSync(path.join(upstreamDir, 'shop.conf'), 'utf8')).toBe(before);
  });

  it("init's set-up line says to widen SOCKET_DIRS when the slots' sockets are not in a folder it allows by default", async () => {
    const setup = (root: string) => helperSetupCommand(resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: root, SLOT_LISTEN: 'socket' }, env: {}, envFile: '/etc/switchyard/shop.env' }));
    expect(setup('/srv/shop')).not.toContain('SOCKET_DIRS');
    expect(setup('/opt/shop')).toContain('and SOCKET_DIRS to /opt/shop/sockets, where the slots\' sockets are)');
    // The default helper refuses those sockets, and takes them once SOCKET_DIRS names their folder.
    const write = ['write', 'shop', 'per-slot', 'unix:/opt/shop/sockets/a1.sock', 'unix:/opt/shop/sockets/b1.sock'];
    expect((await run(write)).stderr).toContain('unix:/opt/shop/sockets/a1.sock is not in a folder SOCKET_DIRS allows (/srv/*/sockets)');
    const widened = installHelper(path.join(dir, 'widened'), { nginx: '/bin/true', reload: 'true', socketDirs: '/srv/*/sockets /opt/shop/sockets' });
    expect((await execa(widened.helper, write, { reject: false, all: true })).all).toBe('changed');
  });

  it('puts the previous upstream back when nginx -t rejects the new one, and refuses a folder others can write', async () => {
    const failing = installHelper(path.join(dir, 'failing'), { nginx: '/bin/false', reload: 'true' });
    const argv = (port: number) => ['install', 'shop', 'per-slot', `127.0.0.1:${port}`, '127.0.0.1:3002'];
    writeFileSync(path.join(failing.upstreamDir, 'shop.conf'), 'previous\n');
    const rejected = await execa(failing.helper, argv(3005), { reject: false });
    expect(rejected.exitCode).toBe(2);
    expect(rejected.stderr).toContain('nginx -t rejected the new upstream');
    expect(readFileSync(path.join(failing.upstreamDir, 'shop.conf'), 'utf8')).toBe('previous\n');
    chmodSync(upstreamDir, 0o777);
    try {
      const open = await run(argv(3006));
      expect(open.exitCode).toBe(2);
      expect(open.stderr).toContain(`${upstreamDir} is writable by group or others`);
    } finally {
      chmodSync(upstreamDir, 0o755);
    }
  });
});
