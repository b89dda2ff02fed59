import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { bucketsFor, canarySteps, parseShare, parseSteps, splitClientsLines } from '../../lib/canary/share.ts';
import { renderSite, siteTemplate, siteValues } from '../../lib/traffic/nginx-site.ts';

const config = (values: Record<string, string> = {}) =>
  resolveConfig({ fileValues: { APP_NAME: 'shop.web', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop', ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });

describe('the canary share', () => {
  it('reads shares and rising steps, refusing what is not one', () => {
    expect(parseShare('5%')).toBe(5);
    expect(parseShare('10')).toBe(10);
    expect(parseShare('0')).toBe(0);
    for (const wrong of ['5.5%', '-1', '101%', 'five', '']) expect(parseShare(wrong), wrong).toBeUndefined();
    expect(parseSteps('5% 25% 50%')).toEqual([5, 25, 50]);
    expect(parseSteps('5%,25%')).toEqual([5, 25]);
    for (const wrong of ['25% 5%', '5% 5%', '0 10%', '100%', 'x']) expect(parseSteps(wrong), wrong).toBeUndefined();
  });

  it('steps through the configured shares above the first, growing by whole buckets', () => {
    expect(canarySteps(10, [5, 25, 50])).toEqual([10, 25, 50]);
    expect(canarySteps(5, [5, 25, 50])).toEqual([5, 25, 50]);
    expect(bucketsFor(3)).toEqual(['00', '01', '02']);
    // A user in the canary at 5 % stays in it at 25 %.
    expect(bucketsFor(25).slice(0, 5)).toEqual(bucketsFor(5));
    const lines = splitClientsLines().trim().split('\n');
    expect(lines).toHaveLength(100);
    expect(lines[0].trim()).toBe('1% 00;');
    expect(lines[99].trim()).toBe('* 99;');
  });

  it('is configured by CANARY and CANARY_STEPS, off by default, and only with the live-file switch', () => {
    expect(config().canaryShare).toBe(0);
    expect(config({ CANARY: '5%', CANARY_STEPS: '10% 50%' })).toMatchObject({ canaryShare: 5, canarySteps: [10, 50] });
    expect(() => config({ CANARY: '5%', SWITCH: 'nginx-reload' })).toThrow(/CANARY=5% needs SWITCH=nginx-live-file/);
    expect(() => config({ CANARY: 'lots' })).toThrow(/CANARY must be a share/);
    expect(() => config({ CANARY_STEPS: '50% 5%' })).toThrow(/CANARY_STEPS must be rising shares/);
  });

  it('puts the bucket tests in the live-file site after the live-files, before the long-lived rewrite', () => {
    const site = renderSite(readFileSync(siteTemplate('nginx-live-file'), 'utf8'), siteValues(config()));
    expect(site).not.toMatch(/\{\{/);
    expect(site).toContain('split_clients "$remote_addr$http_user_agent" $switchyard_shop_web_hashed_bucket {\n    1% 00;');
    const liveB = site.indexOf('if (-f /srv/shop/nginx/live-b)');
    const canaryB = site.indexOf('if (-f /srv/shop/nginx/canary-b/$switchyard_shop_web_bucket) { set $switchyard_upstream switchyard_shop_web_b; }');
    const rewrite = site.indexOf('rewrite ^ /__switchyard/stream last;');
    expect(liveB).toBeGreaterThan(0);
    expect(canaryB).toBeGreaterThan(liveB);
    expect(rewrite).toBeGreaterThan(canaryB);
    expect(site.match(/add_header Set-Cookie \$switchyard_canary_cookie;/g)).toHaveLength(2);
  });
});
