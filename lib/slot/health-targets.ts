import type { Config, SlotName } from '../config/config.ts';
import { slotEndpoints, type Endpoint } from './endpoints.ts';

/** Where a slot's health check is asked, and how it reads in a line: pure, so the step table can describe it. */

/** An app bound to every address is reached on loopback. */
export function probeAddress(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** Where one instance of a slot answers its health check: a URL, reached over a unix socket for SLOT_LISTEN=socket. */
export type HealthTarget = { url: string; socketPath?: string; label: string };

export function healthTarget(config: Pick<Config, 'host' | 'healthPath'>, endpoint: Endpoint): HealthTarget {
  if (endpoint.kind === 'socket') return { url: `http://localhost${config.healthPath}`, socketPath: endpoint.path, label: `${config.healthPath} on ${endpoint.path}` };
  const url = healthUrl(config.host, endpoint.port, config.healthPath);
  return { url, label: url };
}

export function slotHealthTargets(config: Config, slot: SlotName): HealthTarget[] {
  return slotEndpoints(config, slot).map((endpoint) => healthTarget(config, endpoint));
}

/** A slot's health targets in one phrase for messages: the URL, or `/health on 2 instances (…)`. */
export function describeTargets(targets: HealthTarget[]): string {
  return targets.length === 1 ? targets[0].label : `${targets.length} instances (${targets.map((target) => target.label).join(', ')})`;
}

export function healthUrl(host: string, port: number, healthPath: string): string {
  const target = probeAddress(host);
  const hostPart = target.includes(':') ? `[${target}]` : target;
  return `http://${hostPart}:${port}${healthPath}`;
}
