import http from 'node:http';

/** A closed-loop keep-alive load through nginx that records every request; no retries: a failure is a failure. */

export type RequestKind = 'fast' | 'post' | 'slow' | 'slowpost';
export type RequestRecord = {
  /** Sent as x-load-id, so an app can log which requests it handled. */
  id: string;
  kind: RequestKind;
  method: 'GET' | 'POST';
  startedAt: number;
  latencyMs: number;
  status: number | null;
  error: string | null;
  /** The request went out on a keep-alive socket that had carried an earlier request. */
  reused: boolean;
  version: string | null;
  /** The pid of the app process that answered, when its body says (the test apps' GET answers do). */
  pid?: number | null;
};

export type LoadOptions = {
  port: number;
  connections?: number;
  /** Share of each kind, summing to 1 (default 0.7 fast GET, 0.2 POST, 0.1 slow GET; slowpost: a POST the app answers after slowMs). */
  mix?: Partial<Record<RequestKind, number>>;
  slowMs?: [number, number];
  /** Hard bounds: the load stops by itself after this many requests or this long. */
  maxRequests?: number;
  maxDurationMs?: number;
  /** Each connection waits this long after each answer: 1 connection and 200 ms is about 5 requests a second. */
  pauseMs?: number;
};

export type Load = { records: RequestRecord[]; stop(): Promise<RequestRecord[]> };

export function startLoad(options: LoadOptions): Load {
  const connections = options.connections ?? 32;
  const mix = { fast: 0, post: 0, slow: 0, slowpost: 0, ...(options.mix ?? { fast: 0.7, post: 0.2, slow: 0.1 }) };
  const run = Math.random().toString(36).slice(2, 8);
  const [slowMin, slowMax] = options.slowMs ?? [300, 1500];
  const maxRequests = options.maxRequests ?? 200_000;
  const deadline = Date.now() + (options.maxDurationMs ?? 120_000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const records: RequestRecord[] = [];
  let stopping = false;
  let sent = 0;

  const pickKind = (): RequestKind => {
    const roll = Math.random();
    if (roll < mix.fast) return 'fast';
    if (roll < mix.fast + mix.post) return 'post';
    if (roll < mix.fast + mix.post + mix.slow) return 'slow';
    return 'slowpost';
  };

  const one = (kind: RequestKind): Promise<void> =>
    new Promise((resolve) => {
      const startedAt = Date.now();
      const method = kind === 'post' || kind === 'slowpost' ? 'POST' : 'GET';
      const slowMs = Math.round(slowMin + Math.random() * (slowMax - slowMin));
      const path = kind === 'slow' ? `/slow?ms=${slowMs}` : kind === 'slowpost' ? `/echo?ms=${slowMs}` : kind === 'post' ? '/echo' : '/';
      const body = method === 'POST' ? JSON.stringify({ n: sent, note: 'switchyard load' }) : undefined;
      const id = `${run}-${sent}`;
      const record: RequestRecord = {
        id,
        kind,
        method,
        startedAt,
        latencyMs: 0,
        status: null,
        error: null,
        reused: false,
        version: null,
        pid: null,
      };
      const finish = () => {
        record.latencyMs = Date.now() - startedAt;
        records.push(record);
        resolve();
      };
      const request = http.request(
        { host: '127.0.0.1', port: options.port, path, method, agent, timeout: 10_000, headers: { 'x-load-id': id, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk) => chunks.push(chunk));
          response.on('end', () => {
            record.status = response.statusCode ?? null;
            try {
              const answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              record.version = answer.version ?? null;
              record.pid = typeof answer.pid === 'number' ? answer.pid : null;
            } catch {
              record.version = null;
            }
            if (record.status !== 200) record.error = `HTTP ${record.status}`;
            finish();
          });
          response.on('error', (error) => {
            record.error = error.message;
            finish();
          });
        },
      );
      request.on('socket', () => (record.reused = request.reusedSocket));
      request.on('timeout', () => request.destroy(new Error('timeout after 10s')));
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (record.error === null && record.status === null) {
          record.error = error.code ?? error.message;
          finish();
        }
      });
      request.end(body);
    });

  const worker = async () => {
    while (!stopping && sent < maxRequests && Date.now() < deadline) {
      sent++;
      await one(pickKind());
      if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
    }
  };
  const workers = Array.from({ length: connections }, worker);
  const done = Promise.all(workers).then(() => {
    agent.destroy();
    return records;
  });
  return {
    records,
    async stop() {
      stopping = true;
      return done;
    },
  };
}

export function failures(records: RequestRecord[]): RequestRecord[] {
  return records.filter((record) => record.error !== null);
}

export function summarizeFailures(records: RequestRecord[]): string {
  const failed = failures(records);
  const byType = new Map<string, number>();
  for (const record of failed) {
    const key = `${record.method} ${record.error}${record.reused ? ' (reused socket)' : ''}`;
    byType.set(key, (byType.get(key) ?? 0) + 1);
  }
  return `${failed.length} of ${records.length} failed${failed.length ? `: ${[...byType].map(([key, count]) => `${count}× ${key}`).join(', ')}` : ''}`;
}

/**
 * A reset before any response byte: what nginx's own reload does to a client whose connection the
 * old worker holds idle as it shuts down (nginx closes idle connections when it reloads; see
 * nginx/nginx#437). Mostly a reused keep-alive connection written on just then; now and then a
 * fresh one the old worker had accepted but not read a request from yet (seen once in 1,364 GETs
 * on CI: reused false, 5 ms, no status). Never a 5xx, never a response cut halfway.
 */
export function isReloadReset(record: RequestRecord): boolean {
  return record.status === null && /^(ECONNRESET|EPIPE|socket hang up)$/.test(record.error ?? '');
}

/** Every failure that is not a reload reset: a 5xx, a timeout, a refused or reset fresh connection. */
export function upstreamFailures(records: RequestRecord[]): RequestRecord[] {
  return failures(records).filter((record) => !isReloadReset(record));
}

/**
 * `action` (a deploy, a rollback) inside a window of load: the load starts `leadMs` before it and
 * stops `tailMs` after it returns. Gives what it returned, every request, and when it returned.
 */
export async function duringLoad<T>(
  options: LoadOptions & { leadMs?: number; tailMs?: number },
  action: () => Promise<T>,
): Promise<{ result: T; records: RequestRecord[]; returnedAt: number }> {
  const { leadMs = 1000, tailMs = 500, ...loadOptions } = options;
  const load = startLoad(loadOptions);
  await new Promise((resolve) => setTimeout(resolve, leadMs));
  const result = await action();
  const returnedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, tailMs));
  return { result, records: await load.stop(), returnedAt };
}
