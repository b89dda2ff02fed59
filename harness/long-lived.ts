import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The long-lived tests' app (test/fixtures/long-lived-app: ws, socket.io, SSE) as a real git repo in a
 * temp folder, its npm packages installed there by `npm ci` (so the tests' clients load the same ws and
 * socket.io-client), and the drain helper copied beside it as graceful.cjs, as graceful/README.md says.
 */
const FIXTURE = fileURLToPath(new URL('../test/fixtures/long-lived-app', import.meta.url));
const HELPER = fileURLToPath(new URL('../graceful/graceful.cjs', import.meta.url));
const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };

export type LongLivedRepo = { repo: string; commit(version: string): string; require: NodeJS.Require; cleanUp(): void };

export function createLongLivedRepo(prefix: string): LongLivedRepo {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const repo = path.join(dir, 'repo');
  cpSync(FIXTURE, repo, { recursive: true, filter: (source) => !source.includes(`${path.sep}node_modules`) });
  copyFileSync(HELPER, path.join(repo, 'graceful.cjs'));
  try {
    execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: repo, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`npm ci of the long-lived fixture failed (it needs the npm registry, or npm's cache, for ws and socket.io): ${(error as Error).message}`);
  }
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: GIT_ENV }).trim();
  git('init', '--quiet', '--initial-branch=main');
  const commit = (version: string) => {
    writeFileSync(path.join(repo, 'VERSION'), `${version}\n`);
    git('add', '--all');
    git('commit', '--quiet', '--allow-empty', '-m', `long-lived app ${version}`);
    return git('rev-parse', 'HEAD');
  };
  commit('v1');
  return { repo, commit, require: createRequire(path.join(repo, 'server.cjs')), cleanUp: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The .env keys that deploy this app: its repo, npm ci from the cache, node directly (no npm in front). */
export function longLivedEnv(repo: string, values: Record<string, string> = {}): Record<string, string> {
  return { REPO: repo, INSTALL_CMD: 'npm ci --prefer-offline --no-audit --no-fund --loglevel=error', BUILD_CMD: '', START_CMD: 'node server.cjs', ...values };
}

/** Resolves when `check` holds, polling every 50 ms; fails after `timeoutMs` naming what it waited for. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export type WsClient = {
  messages: any[];
  closed?: { code: number; reason: string };
  send(text: string): Promise<any>;
  close(): void;
};

/** A ws (or wss) WebSocket to `url` that records what arrives and how it closed; send() resolves with the echo. */
export async function openWebSocket(req: NodeJS.Require, url: string, options: Record<string, unknown> = {}): Promise<WsClient> {
  const WebSocket = req('ws');
  // `options` go to ws (and on to https.request for wss: ca, servername, headers).
  const ws = new WebSocket(url, options);
  const client: WsClient = {
    messages: [],
    async send(text) {
      const before = client.messages.length;
      ws.send(text);
      await until(`the echo of ${text}`, () => client.messages.slice(before).some((m) => m.echo === text) || client.closed !== undefined, 10_000);
      const echo = client.messages.slice(before).find((m) => m.echo === text);
      if (!echo) throw new Error(`the WebSocket closed (${JSON.stringify(client.closed)}) before ${text} was echoed`);
      return echo;
    },
    close: () => ws.close(),
  };
  ws.on('message', (data: Buffer) => client.messages.push(JSON.parse(String(data))));
  ws.on('close', (code: number, reason: Buffer) => (client.closed = { code, reason: String(reason) }));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req: unknown, res: { statusCode: number }) => reject(new Error(`the WebSocket upgrade to ${url} got HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  await until('the hello', () => client.messages.length > 0, 10_000);
  return client;
}

export type SseClient = { hello: any; events: number; ended: boolean; error?: string; close(): void };

/** An SSE stream (GET with Accept: text/event-stream) that counts events and says whether it ended cleanly. */
export async function openSse(url: string): Promise<SseClient> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  if (response.status !== 200 || !response.body) throw new Error(`the SSE stream ${url} got HTTP ${response.status}`);
  const client: SseClient = { hello: undefined, events: 0, ended: false, close: () => controller.abort() };
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (event.startsWith('event: hello')) client.hello = JSON.parse(event.split('data: ')[1]);
          else client.events++;
        }
      }
      client.ended = true;
    } catch (error) {
      client.error = (error as Error).message;
    }
  })();
  await until('the SSE hello', () => client.hello !== undefined || client.error !== undefined, 10_000);
  if (!client.hello) throw new Error(`the SSE stream failed: ${client.error}`);
  return client;
}
