import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { includesOf, parseMasterCommandLine, waysToRewrite } from '../../lib/setup/doctor/nginx-files.ts';

describe('the files nginx parses, found without nginx', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'security-nginx-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads -p and -c from the master's command line", () => {
    expect(parseMasterCommandLine('nginx: master process /usr/sbin/nginx -p /srv/ng -c /srv/ng/nginx.conf ')).toEqual({ binary: '/usr/sbin/nginx', prefix: '/srv/ng', conf: '/srv/ng/nginx.conf' });
    expect(parseMasterCommandLine('nginx: master process /usr/sbin/nginx -g daemon on; master_process on;')).toEqual({ binary: '/usr/sbin/nginx', prefix: undefined, conf: undefined });
  });

  it('finds every include, quoted or not, and none in a comment', () => {
    const text = 'http {\n  include /etc/nginx/mime.types;\n  # include /etc/nginx/off.conf;\n  include "/etc/nginx/sites-enabled/*";include conf.d/*.conf;\n}\nserver { include\t/srv/app/upstream.conf ; }\n';
    expect(includesOf(text)).toEqual(['/etc/nginx/mime.types', '/etc/nginx/sites-enabled/*', 'conf.d/*.conf', '/srv/app/upstream.conf']);
  });

  it('as root, every file is rewritable; a file and folders of another user, or a sticky folder above them, are not', () => {
    const file = path.join(dir, 'etc', 'nginx.conf');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '');
    expect(waysToRewrite(file, 0)).toContain(`can write ${file}`);
    // A folder that is writable but sticky (like /tmp) does not let a user replace an entry that is not theirs.
    chmodSync(dir, 0o1777);
    const ways = waysToRewrite(file, 12345);
    expect(ways).not.toContain(`can replace ${path.dirname(file)} (may write ${dir})`);
  });
});
