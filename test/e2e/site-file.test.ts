import { describe, expect, it } from 'vitest';
import { changedLineCount, unifiedDiff } from '../../lib/setup/line-diff.ts';
import { describeSiteEdits, planSiteInstall, siteOrigin, stampedSite } from '../../lib/setup/site-file.ts';

const BODY = 'server {\n    listen 80;\n    location / { proxy_pass http://app; }\n}\n';
const CERTBOT = BODY.replace('    listen 80;\n', '    listen 80;\n    listen 443 ssl; # managed by Certbot\n    ssl_certificate /etc/letsencrypt/live/x/fullchain.pem; # managed by Certbot\n');

describe('the installed site: Switchyard\'s own, or edited since (pure)', () => {
  const wanted = stampedSite('app: SWITCH=nginx-live-file', BODY);

  it('tells an unedited older rendering (update) from an edited one (refuse unless --force)', () => {
    expect(siteOrigin(undefined, wanted)).toBe('absent');
    expect(siteOrigin(wanted, wanted)).toBe('current');
    // Another comment line (another env file), the same site: nothing to write.
    expect(siteOrigin(stampedSite('app: from elsewhere', BODY), wanted)).toBe('current');
    const older = stampedSite('app: SWITCH=nginx-live-file', BODY.replace('listen 80', 'listen 8080'));
    expect(siteOrigin(older, wanted)).toBe('stale');
    // certbot edits in place, under the stamp: the checksum no longer matches.
    const edited = older.replace('    listen 8080;\n', '    listen 8080;\n    listen 443 ssl; # managed by Certbot\n');
    expect(siteOrigin(edited, wanted)).toBe('edited');
    // A Switchyard before the stamp: one comment line, then the site.
    expect(siteOrigin(`# app: written by ./deploy.ts init from /e\n${BODY}`, wanted)).toBe('stale');
    expect(siteOrigin(`# app: written by ./deploy.ts init from /e\n${CERTBOT}`, wanted)).toBe('foreign');
    expect(siteOrigin(CERTBOT, wanted)).toBe('foreign');
    expect(['absent', 'current', 'stale', 'edited', 'foreign'].map((origin) => planSiteInstall(origin as never, false))).toEqual(['create', 'unchanged', 'update', 'refuse', 'refuse']);
    expect(planSiteInstall('edited', true)).toBe('replace');
    expect(planSiteInstall('foreign', true)).toBe('replace');
  });

  it('says how many lines differ and quotes the first added one', () => {
    expect(describeSiteEdits(CERTBOT, BODY)).toBe('2 line(s) differ from what init would write, e.g. "listen 443 ssl; # managed by Certbot"');
    expect(changedLineCount(BODY, BODY)).toBe(0);
  });

  it('prints a unified diff as diff -u does, empty for equal texts', () => {
    expect(unifiedDiff(CERTBOT, BODY, { before: 'installed', after: 'new' })).toBe([
      '--- installed', '+++ new', '@@ -1,6 +1,4 @@', ' server {', '     listen 80;',
      '-    listen 443 ssl; # managed by Certbot', '-    ssl_certificate /etc/letsencrypt/live/x/fullchain.pem; # managed by Certbot',
      '     location / { proxy_pass http://app; }', ' }', '',
    ].join('\n'));
    expect(unifiedDiff(BODY, BODY, { before: 'a', after: 'b' })).toBe('');
    expect(unifiedDiff('', 'x\n', { before: '/dev/null', after: 'b' })).toBe('--- /dev/null\n+++ b\n@@ -0,0 +1,1 @@\n+x\n');
  });
});
