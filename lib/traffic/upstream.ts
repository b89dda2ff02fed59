import { otherSlot, type Config, type SlotName } from '../config/config.ts';
import { slotEndpoints, slotOfAddress, upstreamAddress, type Endpoint } from '../slot/endpoints.ts';
import type { State } from '../record/state-shape.ts';
import { streamUpstreamLines } from './long-lived.ts';

/** nginx identifiers allow letters, digits and underscores. */
export function upstreamName(appName: string): string {
  return `switchyard_${appName.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Each slot's servers: its endpoints (lib/slot/endpoints.ts), one per instance. With `streams`, the long-lived groups too (lib/traffic/long-lived.ts). */
export type UpstreamLayout = (
  | { kind: 'live'; appName: string; host: string; live: { slot: SlotName; endpoints: Endpoint[]; commit?: string | null }; standby?: { slot: SlotName; endpoints: Endpoint[] } }
  | { kind: 'passive'; appName: string; host: string; servers: Endpoint[] }
  | { kind: 'per-slot'; appName: string; host: string; slots: Record<SlotName, Endpoint[]> }
) & { streams?: Record<SlotName, Endpoint[]> };

/**
 * Render the upstream include Switchyard owns. Pure.
 *
 * `live`: the live slot first; the other slot as `backup`, so a worker that still runs the previous
 * config (or a request refused by a draining slot) falls over to the other slot instead of failing.
 * max_fails=0 everywhere: a refused connection during a switch must never mark a server down, or nginx
 * answers "no live upstreams" while both are briefly unavailable.
 */
export function renderUpstream(layout: UpstreamLayout): string {
  const name = upstreamName(layout.appName);
  const address = (endpoint: Endpoint) => upstreamAddress(layout.host, endpoint);
  const lines = ['# Written by Switchyard; do not edit: the next deploy or rollback rewrites it.'];
  // Every group's servers, for its long-lived twin.
  const groups: Record<string, string[]> = {};
  const withStreams = () => `${[...lines, ...(layout.streams ? streamUpstreamLines(name, layout.host, layout.streams, groups) : [])].join('\n')}\n`;
  if (layout.kind === 'live') {
    const commit = layout.live.commit ? ` at ${layout.live.commit.slice(0, 12)}` : '';
    lines.push(`# live: slot ${layout.live.slot}${commit}`);
    lines.push(`upstream ${name} {`);
    groups[name] = [];
    for (const endpoint of layout.live.endpoints) {
      lines.push(`    server ${address(endpoint)} max_fails=0;`);
      groups[name].push(`${address(endpoint)} max_fails=0`);
    }
    if (layout.standby && layout.standby.slot !== layout.live.slot) {
      for (const endpoint of layout.standby.endpoints) {
        lines.push(`    server ${address(endpoint)} max_fails=0 backup;  # slot ${layout.standby.slot}, only if the live slot refuses`);
        groups[name].push(`${address(endpoint)} max_fails=0 backup`);
      }
    }
  } else if (layout.kind === 'per-slot') {
    // Never changes with a deploy, so a deploy never reloads nginx: the site picks a group per request
    // from the live-file (see templates/nginx/site.conf). Each group keeps its own keep-alive pool.
    lines.push('# nginx-live-file: one group per slot (that slot first, the other as backup); the site picks one per request');
    lines.push('# from which live-file exists; switchyard_<app> (both, round robin) is the fallback if it sees neither.');
    const group = (groupName: string, servers: string[]) => {
      groups[groupName] = servers;
      lines.push(`upstream ${groupName} {`);
      for (const server of servers) lines.push(`    server ${server};`);
      lines.push('    keepalive 32;');
      lines.push('    keepalive_timeout 1s;');
      lines.push('}');
    };
    const servers = (slot: SlotName, suffix = '') => layout.slots[slot].map((endpoint) => `${address(endpoint)} max_fails=0${suffix}`);
    group(`${name}_a`, [...servers('a'), ...servers('b', ' backup')]);
    group(`${name}_b`, [...servers('b'), ...servers('a', ' backup')]);
    group(name, [...servers('a'), ...servers('b')]);
    return withStreams();
  } else {
    lines.push('# passive: both slots always listed; nginx moves to whichever accepts connections');
    lines.push(`upstream ${name} {`);
    groups[name] = layout.servers.map((endpoint) => `${address(endpoint)} max_fails=0`);
    for (const endpoint of layout.servers) lines.push(`    server ${address(endpoint)} max_fails=0;`);
  }
  lines.push('    keepalive 32;');
  // Shorter than the app's idle timeouts (Node's keepAliveTimeout 5s, the drain helper's idleClose 2s),
  // so nginx, never the app, closes an idle connection: no request is ever written to a closing socket.
  lines.push('    keepalive_timeout 1s;');
  lines.push('}');
  return withStreams();
}

/** The address the file sends traffic to first (`127.0.0.1:3001`, `unix:/…/a1.sock`); undefined when it is not one of ours. Pure. */
export function parseLiveAddress(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const match = /^\s*server\s+(\S+)([^;]*);/.exec(line);
    if (match && !/\bbackup\b/.test(match[2])) return match[1];
  }
  return undefined;
}

/** Which slot the upstream file sends traffic to. Pure. */
export function parseLiveSlot(config: Pick<Config, 'slotListen' | 'instances' | 'ports' | 'socketDir'>, text: string): SlotName | null | undefined {
  const address = parseLiveAddress(text);
  return address === undefined ? undefined : (slotOfAddress(config, address) ?? null);
}

/** The upstream file for the configuration's mode and the state's live slot (slot a before any deploy). Pure. */
export function upstreamFor(config: Config, state: State): { content: string; live: SlotName } {
  const live = state.live ?? 'a';
  const standby: SlotName = otherSlot(live);
  const base = { appName: config.appName, host: config.host, streams: { a: slotEndpoints(config, 'a'), b: slotEndpoints(config, 'b') } };
  const content =
    config.switchKind === 'passive'
      ? renderUpstream({ kind: 'passive', ...base, servers: [...slotEndpoints(config, 'a'), ...slotEndpoints(config, 'b')] })
      : config.switchKind === 'nginx-live-file'
        ? renderUpstream({ kind: 'per-slot', ...base, slots: { a: slotEndpoints(config, 'a'), b: slotEndpoints(config, 'b') } })
        : renderUpstream({ kind: 'live', ...base, live: { slot: live, endpoints: slotEndpoints(config, live), commit: state.slots[live].commit }, standby: { slot: standby, endpoints: slotEndpoints(config, standby) } });
  return { content, live };
}
