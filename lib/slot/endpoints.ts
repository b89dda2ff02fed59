import path from 'node:path';
import { SLOTS, type Config, type SlotName } from '../config/config.ts';

/**
 * Where a slot's processes listen: one endpoint per instance (INSTANCES), each a TCP port on HOST or
 * a unix socket (SLOT_LISTEN=socket). Every place that reaches a slot (start, health, upstream,
 * drain, status) asks here, so a slot is never assumed to be one port. Pure.
 */
export type Endpoint = { kind: 'port'; port: number; index: number } | { kind: 'socket'; path: string; index: number };

type EndpointSettings = Pick<Config, 'slotListen' | 'instances' | 'ports' | 'socketDir'>;

export function slotEndpoints(config: EndpointSettings, slot: SlotName): Endpoint[] {
  return Array.from({ length: config.instances }, (_, index) =>
    config.slotListen === 'socket'
      ? { kind: 'socket' as const, path: path.join(config.socketDir, `${slot}${index + 1}.sock`), index }
      : { kind: 'port' as const, port: config.ports[slot] + index, index },
  );
}

/** `port 3001` or `socket /srv/app/sockets/a1.sock`, for messages. */
export function describeEndpoint(endpoint: Endpoint): string {
  return endpoint.kind === 'port' ? `port ${endpoint.port}` : `socket ${endpoint.path}`;
}

/** A slot's endpoints in one phrase: `port 3001`, `ports 3001-3002`, `socket …/a1.sock`, `2 sockets …/a1.sock …/a2.sock`. */
export function describeEndpoints(endpoints: Endpoint[]): string {
  if (endpoints.length === 1) return describeEndpoint(endpoints[0]);
  const first = endpoints[0];
  const last = endpoints.at(-1) as Endpoint;
  if (first.kind === 'port' && last.kind === 'port') return `ports ${first.port}-${last.port}`;
  return `${endpoints.length} sockets ${endpoints.map((endpoint) => (endpoint.kind === 'socket' ? endpoint.path : endpoint.port)).join(' ')}`;
}

/** What the app gets as PORT: a port number, or the socket's path (Node's server.listen takes either). */
export function portValue(endpoint: Endpoint): string {
  return endpoint.kind === 'port' ? String(endpoint.port) : endpoint.path;
}

/** PORT, SWITCHYARD_SOCKET and SWITCHYARD_INSTANCE for one instance of a slot. */
export function endpointEnvironment(endpoint: Endpoint): Record<string, string> {
  return {
    PORT: portValue(endpoint),
    SWITCHYARD_INSTANCE: String(endpoint.index + 1),
    ...(endpoint.kind === 'socket' ? { SWITCHYARD_SOCKET: endpoint.path } : {}),
  };
}

/** The address in an nginx `server` line: `127.0.0.1:3001`, `[::1]:3001` or `unix:/srv/app/sockets/a1.sock`. */
export function upstreamAddress(host: string, endpoint: Endpoint): string {
  if (endpoint.kind === 'socket') return `unix:${endpoint.path}`;
  return `${host.includes(':') ? `[${host}]` : host}:${endpoint.port}`;
}

/** Whether an nginx $upstream_addr value (`127.0.0.1:3001`, `unix:/…/a1.sock`) is this endpoint. */
export function isUpstreamAddress(address: string, endpoint: Endpoint): boolean {
  return endpoint.kind === 'socket' ? address === `unix:${endpoint.path}` : address.endsWith(`:${endpoint.port}`);
}

/** Which slot an upstream address belongs to, if either. */
export function slotOfAddress(config: EndpointSettings, address: string): SlotName | undefined {
  return SLOTS.find((slot) => slotEndpoints(config, slot).some((endpoint) => isUpstreamAddress(address, endpoint)));
}

/** The process name of one instance: `myapp-a` for the first (as before pools existed), `myapp-a.2` for the next. */
export function instanceName(appName: string, slot: SlotName, endpoint: Pick<Endpoint, 'index'>): string {
  return endpoint.index === 0 ? `${appName}-${slot}` : `${appName}-${slot}.${endpoint.index + 1}`;
}

/** What one instance of a slot's app runs with: the app environment plus Switchyard's PORT (a port or a socket's path), HOST, SWITCHYARD_SLOT, SWITCHYARD_INSTANCE and, for a socket, SWITCHYARD_SOCKET. Pure. */
export function slotEnvironment(
  env: Record<string, string | undefined>,
  slot: { endpoint: Endpoint; host: string; slot: string },
): Record<string, string | undefined> {
  return { ...env, ...endpointEnvironment(slot.endpoint), HOST: slot.host, SWITCHYARD_SLOT: slot.slot };
}
