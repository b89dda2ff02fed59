import type { Config, SlotName } from '../config/config.ts';
import { slotEndpoints, upstreamAddress, type Endpoint } from '../slot/endpoints.ts';
import { LONG_LIVED_SOURCE } from '../slot/connections.ts';

/**
 * What the nginx site and upstream file need so long-lived requests (WebSocket, SSE, long-poll) are
 * carried, told apart from requests in flight, and kept on the slot where their session began. Pure.
 *
 * Telling them apart from outside the app: the site sends them through a location that proxies to a
 * `_stream` twin of each upstream group (no keep-alive pool, so a connection never changes kind) and,
 * for slots on loopback ports, connects from LONG_LIVED_SOURCE. In /proc/net/tcp a connection to a
 * slot from that address is long-lived; any other one carries a request in flight. Unix sockets have
 * no source address: there every connection counts as in flight (docs/long-lived.md).
 */

/** Whether nginx can mark long-lived connections by their source address: slots on IPv4 loopback ports. */
export function marksLongLived(config: Pick<Config, 'slotListen' | 'host'>): boolean {
  return config.slotListen === 'port' && /^127\.\d+\.\d+\.\d+$/.test(config.host) && config.host !== LONG_LIVED_SOURCE;
}

/** The stream location's proxy_bind line, or why there is none. */
export function streamBindLine(config: Pick<Config, 'slotListen' | 'host'>): string {
  return marksLongLived(config)
    ? `proxy_bind ${LONG_LIVED_SOURCE};`
    : '# no proxy_bind: slots on unix sockets or a non-loopback HOST; their long-lived connections count as requests in flight';
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The sticky-path map's entries, one per NGINX_STICKY_PATHS prefix. */
export function stickyPathLines(prefixes: string[]): string {
  return prefixes.map((prefix) => `    ~^${escapeRegex(prefix)} 1;\n`).join('');
}

/**
 * Upstream-file lines for the long-lived requests and sessions: each group's `_stream` twin (the same
 * servers, no keepalive), a group per slot for sessions going back to a warm slot, and the map from
 * $upstream_addr (the last server tried) to the slot that answered, for the session cookie.
 */
export function streamUpstreamLines(
  name: string,
  host: string,
  slots: Record<SlotName, Endpoint[]>,
  groups: Record<string, string[]>,
): string[] {
  const lines: string[] = [];
  const servers = (slot: SlotName, suffix = '') => slots[slot].map((endpoint) => `${upstreamAddress(host, endpoint)} max_fails=0${suffix}`);
  const all: Record<string, string[]> = { ...groups };
  all[`${name}_a`] ??= [...servers('a'), ...servers('b', ' backup')];
  all[`${name}_b`] ??= [...servers('b'), ...servers('a', ' backup')];
  lines.push('# Long-lived requests (the site\'s stream location): the same servers without a keep-alive pool.');
  for (const [group, list] of Object.entries(all)) {
    if (!groups[group]) {
      lines.push(`upstream ${group} {`);
      for (const server of list) lines.push(`    server ${server};`);
      lines.push('    keepalive 32;');
      lines.push('    keepalive_timeout 1s;');
      lines.push('}');
    }
    lines.push(`upstream ${group}_stream {`);
    for (const server of list) lines.push(`    server ${server};`);
    lines.push('}');
  }
  lines.push(`# The slot that answered a request, for the session cookie (NGINX_STICKY_PATHS).`);
  lines.push(`map $upstream_addr $${name}_served {`);
  lines.push("    default '';");
  for (const slot of ['a', 'b'] as const) {
    for (const endpoint of slots[slot]) lines.push(`    "~(^|[ ,])${escapeRegex(upstreamAddress(host, endpoint))}$" ${slot};`);
  }
  lines.push('}');
  return lines;
}

/** The slots' endpoints, for streamUpstreamLines. */
export function bothSlots(config: Parameters<typeof slotEndpoints>[0]): Record<SlotName, Endpoint[]> {
  return { a: slotEndpoints(config, 'a'), b: slotEndpoints(config, 'b') };
}
