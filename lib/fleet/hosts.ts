/** FLEET_HOSTS: the SSH destinations of a fleet, as `ssh` takes them. Pure. */

export type FleetHost = {
  /** As written in FLEET_HOSTS: how every message and JSON event names the host. */
  name: string;
  /** What `ssh` is given as the destination: an alias of the SSH config, `host` or `user@host`. */
  destination: string;
  /** From `ssh://user@host:port` only; otherwise the SSH config (or 22) decides. */
  port?: number;
};

/** One destination: no leading '-' (it would be an ssh option), no spaces, quotes or shell characters. */
const DESTINATION = /^(?:[A-Za-z0-9._+-]+@)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])$/;

/** Split on spaces or commas; each entry is an alias, `host`, `user@host` or `ssh://[user@]host[:port]`. Throws one message naming every bad entry. */
export function parseHosts(text: string): FleetHost[] {
  const problems: string[] = [];
  const hosts: FleetHost[] = [];
  for (const entry of text.split(/[\s,]+/).filter(Boolean)) {
    const host = parseHost(entry);
    if (typeof host === 'string') problems.push(host);
    else if (hosts.some((other) => other.destination === host.destination && other.port === host.port)) problems.push(`${JSON.stringify(entry)} is listed twice`);
    else hosts.push(host);
  }
  if (problems.length > 0) throw new Error(`FLEET_HOSTS: ${problems.join('; ')}`);
  return hosts;
}

function parseHost(entry: string): FleetHost | string {
  if (entry.startsWith('-')) return `${JSON.stringify(entry)} looks like an ssh option, not a host`;
  if (/^ssh:\/\//i.test(entry)) {
    const match = /^ssh:\/\/(?:([A-Za-z0-9._+-]+)@)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?\/?$/i.exec(entry);
    if (!match) return `${JSON.stringify(entry)} is not an ssh://[user@]host[:port] address`;
    const port = match[3] === undefined ? undefined : Number(match[3]);
    if (port !== undefined && !(port >= 1 && port <= 65535)) return `${JSON.stringify(entry)}: the port must be 1-65535`;
    const host = match[2].startsWith('[') ? match[2].slice(1, -1) : match[2];
    return { name: entry, destination: match[1] ? `${match[1]}@${host}` : host, ...(port !== undefined ? { port } : {}) };
  }
  if (!DESTINATION.test(entry)) return `${JSON.stringify(entry)} is not an ssh destination (alias, host, user@host or ssh://user@host:port)`;
  return { name: entry, destination: entry.replace(/\[|\]/g, '') };
}

/**
 * The hosts in the order every controller takes their leases: by name as FLEET_HOSTS writes it (controllers
 * must name a host alike). The first, the anchor, is also the one that resolves a rollout's revision. Pure.
 */
export function leaseOrder(hosts: readonly FleetHost[]): FleetHost[] {
  return [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
