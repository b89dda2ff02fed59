import { execa } from 'execa';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TLS_HOOK } from '../../harness/acme.ts';

/**
 * The certbot deploy-hook, run as certbot runs it (as root, RENEWED_LINEAGE set): key and chain into
 * one file by rename, 0640 root:<its folder's group>; anything else it refuses before writing.
 */
describe('switchyard-tls-hook', () => {
  let dir: string;
  let lineage: string;
  let folder: string;
  const hook = (args: string[], env: Record<string, string> = { RENEWED_LINEAGE: lineage }) =>
    execa(TLS_HOOK, args, { env, extendEnv: false, reject: false, all: true });

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('test/e2e/tls-hook.test.ts runs as root, as certbot runs the hook (CI runs the suite as root)');
    dir = mkdtempSync(path.join(os.tmpdir(), 'tls-hook-'));
    lineage = path.join(dir, 'live', 'shop');
    mkdirSync(lineage, { recursive: true });
    writeFileSync(path.join(lineage, 'privkey.pem'), '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
    writeFileSync(path.join(lineage, 'fullchain.pem'), '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n');
    folder = path.join(dir, 'tls');
    mkdirSync(folder);
    chownSync(folder, 0, 65534);
    chmodSync(folder, 0o750);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the key, then the chain, into one file: 0640, root, the folder\'s group; no temp file left', async () => {
    const file = path.join(folder, 'shop.pem');
    const result = await hook([file]);
    expect(result.exitCode, result.all).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(path.join(lineage, 'privkey.pem'), 'utf8') + readFileSync(path.join(lineage, 'fullchain.pem'), 'utf8'));
    const stat = statSync(file);
    expect({ mode: (stat.mode & 0o777).toString(8), uid: stat.uid, gid: stat.gid }).toEqual({ mode: '640', uid: 0, gid: 65534 });
    expect(readdirSync(folder)).toEqual(['shop.pem']);
  });

  it('says nothing more when the key is kept (--reuse-key); warns, and still installs, when the key changed', async () => {
    const file = path.join(folder, 'renewed.pem');
    const first = await hook([file]);
    const kept = await hook([file]);
    expect([first.exitCode, kept.exitCode], kept.all).toEqual([0, 0]);
    expect(`${first.stderr}${kept.stderr}`).toBe('');
    const lineageKey = path.join(lineage, 'privkey.pem');
    const oldKey = readFileSync(lineageKey, 'utf8');
    writeFileSync(lineageKey, '-----BEGIN PRIVATE KEY-----\nanother key\n-----END PRIVATE KEY-----\n');
    try {
      const changed = await hook([file]);
      expect(changed.exitCode, changed.all).toBe(0);
      expect(changed.stderr).toMatch(/warning: the private key changed.*--reuse-key \(reuse_key = True in .*\/renewal\/shop\.conf\)/);
      expect(readFileSync(file, 'utf8')).toContain('another key');
    } finally {
      writeFileSync(lineageKey, oldKey);
    }
  });

  it('refuses, writing nothing: no lineage, a relative or odd path, a folder that is missing or not root\'s', async () => {
    const other = path.join(dir, 'theirs');
    mkdirSync(other);
    chownSync(other, 65534, 65534);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[path.join(folder, 'a.pem')], {}, /RENEWED_LINEAGE is not set/],
      [['tls/a.pem'], { RENEWED_LINEAGE: lineage }, /must be an absolute path/],
      [[`${folder}/../a.pem`], { RENEWED_LINEAGE: lineage }, /no \.\./],
      [[`${folder}/a b.pem`], { RENEWED_LINEAGE: lineage }, /letters, digits/],
      [[path.join(dir, 'missing', 'a.pem')], { RENEWED_LINEAGE: lineage }, /does not exist/],
      [[path.join(other, 'a.pem')], { RENEWED_LINEAGE: lineage }, /must be root's/],
      [[path.join(folder, 'a.pem'), 'extra'], { RENEWED_LINEAGE: lineage }, /usage/],
    ];
    for (const [args, env, message] of cases) {
      const result = await hook(args, env);
      expect(result.exitCode, `${args.join(' ')}: ${result.all}`).toBe(2);
      expect(result.all).toMatch(message);
    }
    expect(existsSync(path.join(folder, 'a.pem'))).toBe(false);
    expect(readdirSync(other)).toEqual([]);
  });
});
