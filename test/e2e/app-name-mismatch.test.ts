import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, type TestHost } from '../../harness/host.ts';
import { failures, startLoad, summarizeFailures } from '../../harness/load.ts';
import { loadAnswered } from '../../harness/wait.ts';
import { resolveConfig } from '../../lib/config/config.ts';
import { readSettings } from '../../lib/config/settings.ts';
import { appNameMismatch, upstreamGroupOf } from '../../lib/cycle/app-name.ts';
import { nginxLiveFileSwitch } from '../../lib/traffic/nginx-live-file.ts';
import { trafficTarget } from '../../lib/traffic/types.ts';

/**
 * Issue 23 item 1: an APP_NAME other than the host's (edited in the .env file, or exported in the
 * shell, which overrides the file). Before, a deploy under load installed an upstream whose groups
 * follow the new name, reloaded nginx, and 4,272 of 4,335 requests failed while the error said the old
 * slot was "still live and serving"; the failed confirmation put back the live-file only. Now the
 * command is refused before anything changes, and a failed live-file switch puts back the upstream
 * file it replaced too. Real nginx, an app with no SIGTERM handler, load through nginx.
 */
const noHandlerApp = new URL('../fixtures/apps/no-handler.js', import.meta.url).pathname;
const useNoHandlerApp = (dir: string) => copyFileSync(noHandlerApp, path.join(dir, 'server.js'));

describe('what the host says its app is called', () => {
  it('finds the base group of each upstream layout, and names every disagreement', () => {
    expect(upstreamGroupOf('upstream switchyard_shop_a {\n}\nupstream switchyard_shop_b {\n}\nupstream switchyard_shop {\n}\n')).toBe('switchyard_shop');
    expect(upstreamGroupOf('# not ours\n')).toBeUndefined();
    expect(appNameMismatch('shop', { stateApp: 'shop', upstreamGroup: 'switchyard_shop', runningNames: [{ name: 'shop-a', pid: 10 }, { name: 'shop-b.2', pid: 11 }] })).toBeUndefined();
    expect(appNameMismatch('shop2', { stateApp: 'shop', upstreamGroup: 'switchyard_shop', runningNames: [{ name: 'shop-a', pid: 10 }] })).toBe(
      'the state file records app "shop"; the installed nginx upstream defines switchyard_shop, not switchyard_shop2; slot processes run under another name (shop-a pid 10)',
    );
  });
});

describe('a deploy with another APP_NAME, under load', () => {
  let host: TestHost;
  let v1: string;

  beforeAll(async () => {
    host = await createTestHost();
    v1 = host.example.commit('v1', useNoHandlerApp);
    const first = await host.run(['deploy']);
    expect(first.exitCode, first.output).toBe(0);
    host.example.commit('v2', useNoHandlerApp);
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  async function expectRefusedUnderLoad(run: () => Promise<{ exitCode: number; stderr: string; output: string }>) {
    const upstream = readFileSync(host.upstreamFile, 'utf8');
    const load = startLoad({
      port: host.nginx.port,
      connections: 8,
      mix: { fast: 0.7, post: 0.2, slowpost: 0.1 },
      slowMs: [200, 800],
      maxDurationMs: 60_000,
    });
    await loadAnswered(load);
    const result = await run();
    await loadAnswered(load, Date.now());
    const records = await load.stop();
    expect(result.exitCode, result.output).not.toBe(0);
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: APP_NAME is "otherapp" but this host's app is not: the state file records app "exampleapp"; the installed nginx upstream defines switchyard_exampleapp, not switchyard_otherapp; slot processes run under another name \(exampleapp-a pid \d+\); nothing was changed/);
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(upstream);
    expect(host.state()).toMatchObject({ live: 'a', journal: null });
    expect(host.state().slots.a.commit).toBe(v1);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
    expect((await host.get('/')).json.version).toBe('v1');
  }

  it('exported in the environment (which overrides the file): refused before anything changes', async () => {
    await expectRefusedUnderLoad(() => host.run(['deploy'], { APP_NAME: 'otherapp' }));
  }, 90_000);

  it('edited in the .env file: refused the same way', async () => {
    host.writeEnv({ APP_NAME: 'otherapp' });
    try {
      await expectRefusedUnderLoad(() => host.run(['deploy']));
    } finally {
      host.writeEnv({});
    }
  }, 90_000);

  it('a live-file switch whose confirmation fails puts back the upstream file it replaced, and the site serves again', async () => {
    // The switch itself, past the refusal: the groups it installs follow another name than the site's.
    const settings = readSettings(host.envFile, { DEPLOY_ENV_FILE: host.envFile });
    const config = resolveConfig({ ...settings, env: { APP_NAME: 'otherapp' } });
    const upstream = readFileSync(host.upstreamFile, 'utf8');
    const error = await nginxLiveFileSwitch(config).moveTo(trafficTarget(config, 'a', v1), null, () => undefined).catch((caught) => caught);
    expect(error).toBeInstanceOf(Error);
    // Either nginx -t already refuses the other name's upstream (the site reads variables it defines), or the confirmation fails: both put the file back.
    expect(error.untouched).toMatch(/the live-file points at slot a again; the upstream file was put back as it was and nginx reloaded with it|upstream\.conf was restored and nginx was not reloaded/);
    expect(readFileSync(host.upstreamFile, 'utf8')).toBe(upstream);
    const load = startLoad({ port: host.nginx.port, connections: 4, maxDurationMs: 20_000 });
    await loadAnswered(load);
    const records = await load.stop();
    expect(records.length).toBeGreaterThan(0);
    expect(failures(records), summarizeFailures(records)).toEqual([]);
  }, 90_000);
});
