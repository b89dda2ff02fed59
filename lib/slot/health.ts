import http from 'node:http';
import net from 'node:net';
import { existsSync, lstatSync, rmSync } from 'node:fs';
import type { Config, SlotName } from '../config/config.ts';
import { describeEndpoint, slotEndpoints, type Endpoint } from './endpoints.ts';
import { describeTargets, healthTarget, healthUrl, probeAddress, slotHealthTargets, type HealthTarget } from './health-targets.ts';
export { describeTargets, healthTarget, healthUrl, probeAddress, slotHealthTargets, type HealthTarget };
import { SwitchyardError } from '../errors.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export type Probe = { ok: boolean; status?: number; error?: string; headers?: http.IncomingHttpHeaders };

/**
 * One GET; 2xx is healthy, anything else (including a redirect) is not. Settles within timeoutMs
 * whatever the app does (an overall deadline, not only an idle-socket one: a health route that
 * trickles a byte now and then never goes idle), and at once when `signal` aborts.
 */
export function probe(
  url: string,
  timeoutMs = 2000,
  options: { signal?: AbortSignal; socketPath?: string; host?: string; cookie?: string } = {},
): Promise<Probe> {
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
    const request = http.get(url, { agent: false, timeout: timeoutMs, socketPath: options.socketPath, headers: { 'user-agent': 'switchyard-health', ...(options.host ? { host: options.host } : {}), ...(options.cookie ? { cookie: options.cookie } : {}) } }, (response) => {
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
  target: HealthTarget,
  options: {
    timeoutMs: number;
    hasExited: () => boolean | Promise<boolean>;
    onWait?: (elapsedMs: number, last: Probe) => void;
    signal?: AbortSignal;
  },
): Promise<WaitResult> {
  const started = Date.now();
  let lastReport = started;
  let last: Probe = { ok: false, error: 'not probed yet' };
  for (;;) {
    const elapsed = Date.now() - started;
    if (await options.hasExited()) return { healthy: false, elapsedMs: elapsed, last, exited: true };
    if (elapsed >= options.timeoutMs || options.signal?.aborted) return { healthy: false, elapsedMs: elapsed, last, exited: false };
    last = await probeTarget(target, Math.min(2000, Math.max(200, options.timeoutMs - elapsed)), { signal: options.signal });
    if (last.ok) return { healthy: true, elapsedMs: Date.now() - started };
    if (options.signal?.aborted) return { healthy: false, elapsedMs: Date.now() - started, last, exited: false };
    if (options.onWait && Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      options.onWait(Date.now() - started, last);
    }
    await sleep(100);
  }
}

export function probeTarget(target: HealthTarget, timeoutMs = 2000, options: { signal?: AbortSignal } = {}): Promise<Probe> {
  return probe(target.url, timeoutMs, { ...options, socketPath: target.socketPath });
}

/** Every instance of a slot at once, past nginx: the first that fails (named, when there are several), else the first answer. */
export async function probeSlot(config: Config, slot: SlotName, timeoutMs = 2000): Promise<Probe> {
  const targets = slotHealthTargets(config, slot);
  const results = await Promise.all(targets.map((target) => probeTarget(target, timeoutMs)));
  const failed = results.findIndex((result) => !result.ok);
  if (failed < 0) return results[0];
  return targets.length === 1 ? results[0] : { ...results[failed], error: `${targets[failed].label}: ${describeProbe(results[failed])}`, status: undefined };
}

/**
 * Whether a running slot is healthy, as recovery and status decide it: unhealthy only after two failed
 * probes in a row. One slow answer on a busy host is not a slot that is down, and "not healthy" makes
 * recovery look elsewhere for the live slot, which during a bake window is the previous release.
 */
export async function confirmedHealthy(probeOnce: () => Promise<Probe>, gapMs = 250): Promise<boolean> {
  if ((await probeOnce()).ok) return true;
  await sleep(gapMs);
  return (await probeOnce()).ok;
}

/** Wait for every instance of a slot (all at once); the first that failed, with its target, or healthy. */
export async function waitUntilAllHealthy(
  targets: HealthTarget[],
  options: Parameters<typeof waitUntilHealthy>[1],
): Promise<{ result: WaitResult; target: HealthTarget }> {
  const results = await Promise.all(targets.map((target) => waitUntilHealthy(target, options)));
  const failed = results.findIndex((result) => !result.healthy);
  const slowestAt = () => results.reduce((slowest, result, at) => (result.elapsedMs > results[slowest].elapsedMs ? at : slowest), 0);
  const index = failed < 0 ? slowestAt() : failed;
  return { result: results[index], target: targets[index] };
}


/** Whether something already accepts connections on host:port (checked before a slot starts there). */
export function portInUse(host: string, port: number): Promise<boolean> {
  return acceptsConnection({ host: probeAddress(host), port });
}

/** Whether something accepts connections on a unix socket. */
export function socketInUse(socketPath: string): Promise<boolean> {
  return acceptsConnection({ path: socketPath });
}

/** One connect attempt: answered (or silent for 1 s: something holds it) is in use; refused is free. */
function acceptsConnection(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ ...target, timeout: 1000 });
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

/** Whether an endpoint is held by something: a listening port, or a socket file something answers on. */
export function endpointInUse(host: string, endpoint: Endpoint): Promise<boolean> {
  return endpoint.kind === 'port' ? portInUse(host, endpoint.port) : existsSync(endpoint.path) ? socketInUse(endpoint.path) : Promise.resolve(false);
}

/**
 * Before a slot starts: refuse an endpoint another process holds (it would get our traffic). A socket
 * file nothing answers on is what a killed app leaves behind, and is removed; any other file there is not ours.
 */
export async function refuseTakenEndpoints(config: Config, slot: SlotName): Promise<void> {
  for (const endpoint of slotEndpoints(config, slot)) {
    if (endpoint.kind === 'port') {
      await refuseTakenPort(config.host, endpoint.port, `slot ${slot}`);
      continue;
    }
    let isSocket: boolean;
    try {
      isSocket = lstatSync(endpoint.path).isSocket();
    } catch {
      continue;
    }
    if (!isSocket) {
      throw new SwitchyardError(`${endpoint.path}, where slot ${slot} must listen, is a file that is not a socket`, {
        untouched: 'it was left as it is; nothing was started',
        next: `move it away (it is not Switchyard's), then run this again`,
      });
    }
    if (await socketInUse(endpoint.path)) {
      throw new SwitchyardError(`${describeEndpoint(endpoint)} of slot ${slot} is already in use by a process Switchyard did not start`, {
        untouched: 'it was left running; nothing was started',
        next: `find it with \`ss -lxp | grep ${endpoint.path}\` and stop it, then run this again`,
      });
    }
    rmSync(endpoint.path, { force: true });
  }
}
