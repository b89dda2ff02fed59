import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeployedTestHost, type TestHost } from '../harness/host.ts';
import { resolveConfig, readSettings, type Config } from '../lib/config/config.ts';
import { judgingFile, NO_FIGURES, openTrafficLog } from '../lib/judge/index.ts';
import { waitFor } from '../harness/wait.ts';

/**
 * The judgement's source: the site's access_log, sent by a real nginx (as root, workers as nobody)
 * over syslog to the traffic log, per slot, only while the judging file exists; the health path and
 * long-lived requests left out; nothing in nginx's error log when nobody listens.
 */
describe("nginx's judging request log", () => {
  let host: TestHost;
  let config: Config;

  beforeAll(async () => {
    host = await createDeployedTestHost();
    config = resolveConfig(readSettings(host.envFile, { DEPLOY_ENV_FILE: host.envFile }));
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  const errorLog = () => (existsSync(host.nginx.errorLog) ? readFileSync(host.nginx.errorLog, 'utf8') : '');

  it('counts each slot\'s proxied requests, 5xx and latencies, without the health path or long-lived requests', async () => {
    const log = await openTrafficLog(config);
    try {
      expect(readFileSync(judgingFile(config), 'utf8').trim()).toBe(String(process.pid));
      for (let i = 0; i < 30; i++) expect((await host.get('/')).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await host.get('/health')).status).toBe(200);
      // An SSE request takes the stream location: a long-lived request, never judged.
      const sse = await fetch(host.nginx.url('/'), { headers: { accept: 'text/event-stream', connection: 'close' } });
      await sse.text();
      // Datagrams may trail the answers by a moment: wait for them, adding up the takes.
      const seen = { requests: 0, errors: 0, b: 0 };
      await waitFor('30 requests in the log', () => {
        const taken = log.take();
        seen.requests += taken.a.requests;
        seen.errors += taken.a.errors;
        seen.b += taken.b.requests;
        return seen.requests >= 30;
      }, { timeoutMs: 10_000, everyMs: 100 });
      expect(seen).toEqual({ requests: 30, errors: 0, b: 0 });
      expect(log.take()).toEqual({ a: NO_FIGURES, b: NO_FIGURES });
      expect(log.ignored()).toBe(0);
    } finally {
      await log.close();
    }
    expect(existsSync(judgingFile(config))).toBe(false);
  }, 60_000);

  it('sends nothing while nobody judges: no line in the error log, and a port that is taken is named', async () => {
    const before = errorLog();
    for (let i = 0; i < 10; i++) expect((await host.get('/')).status).toBe(200);
    expect(errorLog().slice(before.length)).not.toMatch(/syslog/);
    const first = await openTrafficLog(config);
    try {
      const taken = `cannot listen for nginx's request log on UDP 127.0.0.1:${config.judge.logPort}: another process holds that port`;
      await expect(openTrafficLog(config)).rejects.toThrow(taken);
    } finally {
      await first.close();
    }
  }, 60_000);
});
