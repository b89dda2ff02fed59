import { readFileSync } from 'node:fs';
import type { Config, SlotName } from '../config/config.ts';
import { runningPid } from './app-process.ts';
import type { Endpoint } from './endpoints.ts';
import { slotInstances } from './process-manager.ts';

/**
 * Where a slot's running processes really listen: the PORT each supervisor was started with (its
 * /proc/<pid>/environ), not what PORT_A, PORT_B or SLOT_LISTEN say now. A drain after one of those
 * changed must count the connections the running slot has, or it finds none and cuts the requests in
 * flight (issue 23 item 3). An instance that is not running, or whose start environment cannot be
 * read (systemd's units, another user's process), keeps its configured endpoint.
 */
export function runningEndpoints(config: Config, slot: SlotName): Endpoint[] {
  return slotInstances(config, slot, { withLeftovers: true }).map((instance) => {
    if (config.processManager === 'systemd') return instance.endpoint;
    const pid = runningPid(instance.files);
    const started = pid === undefined ? undefined : startedEndpoint(pid, instance.endpoint.index);
    return started ?? instance.endpoint;
  });
}

/** The endpoint a supervisor's PORT names: a port number, or a unix socket's path. */
function startedEndpoint(pid: number, index: number): Endpoint | undefined {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
  return endpointFromEnviron(environ, index);
}

/** PORT in a NUL-separated environment block, as an Endpoint. Pure. */
export function endpointFromEnviron(environ: string, index: number): Endpoint | undefined {
  const entry = environ.split('\0').find((line) => line.startsWith('PORT='));
  const value = entry?.slice('PORT='.length);
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return { kind: 'port', port: Number(value), index };
  return value.startsWith('/') ? { kind: 'socket', path: value, index } : undefined;
}
