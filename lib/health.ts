import http from 'node:http';
import net from 'node:net';
import type { Config, SlotName } from './config.ts';
import { SwitchyardError } from './errors.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export type Probe = { ok: boolean; status?: number; error?: string; headers?: http.IncomingHttpHeaders };

/**
 * One GET; 2xx is healthy, anything else (including a redirect) is not. Settles within timeoutMs
 * whatever the app does (an overall deadline, not only an idle-socket one: a health route that
 * trickles a byte now and then never goes idle), and at once when `signal` aborts.
 */
export function probe(url: string, timeoutMs = 2000, options: { signal?: AbortSignal } = {}): Promise<Probe> {
  return new Promise((resolve) => {
    const { signal } = options;
    if (signal?.aborted) return resolve({ ok: false, error: 'aborted' });
    let settled = false;
    const finish = (result: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      request.destroy();
      resolve(result);
    };
    let answered = false;
    const request = http.get(url, { agent: false, timeout: timeoutMs, headers: { 'user-agent': 'switchyard-health' } }, (response) => {
      answered = true;
      response.resume();
      const status = response.statusCode ?? 0;
      response.on('end', () => finish({ ok: status >= 200 && status < 300, status, headers: response.headers }));
      response.on('error', (error) => finish({ ok: false, error: error.message }));
    });
    // Headers that came but a body that never ends (a route that streams) is told apart from silence.
    const deadline = setTimeout(() => finish({ ok: false, error: `${answered ? 'no complete answer' : 'no answer'} within ${timeoutMs}ms` }), timeoutMs);
    const onAbort = () => finish({ ok: false, error: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('timeout', () => finish({ ok: false, error: `no answer within ${timeoutMs}ms` }));
    request.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, error: error.code ?? error.message }));
  });
}

export function describeProbe(result: Probe): string {
  if (result.status !== undefined) return `HTTP ${result.status}`;
  return result.error ?? 'no answer';
}

export type WaitResult = { healthy: true; elapsedMs: number } | { healthy: false; elapsedMs: number; last: Probe; exited: boolean };

/**
 * Poll until 2xx, the deadline, or `hasExited()` says the process died (then fail at once).
 */
export async function waitUntilHealthy(
  url: string,
  options: { timeoutMs: number; hasExited: () => boolean | Promise<boolean>; onWait?: (elapsedMs: number, last: Probe) => void; signal?: AbortSignal },
): Promise<WaitResult> {
  const started = Date.now();
  let lastReport = started;
  let last: Probe = { ok: false, error: 'not probed yet' };
  for (;;) {
    const elapsed = Date.now() - started;
    if (await options.hasExited()) return { healthy: false, elapsedMs: elapsed, last, exited: true };
    if (elapsed >= options.timeoutMs || options.signal?.aborted) return { healthy: false, elapsedMs: elapsed, last, exited: false };
    last = await probe(url, Math.min(2000, Math.max(200, options.timeoutMs - elapsed)), { signal: options.signal });
    if (last.ok) return { healthy: true, elapsedMs: Date.now() - started };
    if (options.signal?.aborted) return { healthy: false, elapsedMs: Date.now() - started, last, exited: false };
    if (options.onWait && Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      options.onWait(Date.now() - started, last);
    }
    await sleep(100);
  }
}

/** An app bound to every address is reached on loopback. */
export function probeAddress(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** One probe of a slot's own health URL, past nginx. */
export function probeSlot(config: Config, slot: SlotName, timeoutMs = 2000): Promise<Probe> {
  return probe(healthUrl(config.host, config.ports[slot], config.healthPath), timeoutMs);
}

export function healthUrl(host: string, port: number, healthPath: string): string {
  const target = probeAddress(host);
  const hostPart = target.includes(':') ? `[${target}]` : target;
  return `http://${hostPart}:${port}${healthPath}`;
}

/** Whether something already accepts connections on host:port (checked before a slot starts there). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: probeAddress(host), port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Refuse to start on a port something else already holds: that process would get our traffic. */
export async function refuseTakenPort(host: string, port: number, what: string): Promise<void> {
  if (await portInUse(host, port)) {
    throw new SwitchyardError(`port ${port} of ${what} is already in use by a process Switchyard did not start`, {
      next: `find it with \`ss -ltnp 'sport = :${port}'\` and stop it, or use another port, then run this again`,
    });
  }
}
