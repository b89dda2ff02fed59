import type { Config, SlotName } from '../config.ts';
import type { State } from '../state.ts';

/** nginx identifiers allow letters, digits and underscores. */
export function upstreamName(appName: string): string {
  return `switchyard_${appName.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export type UpstreamLayout =
  | { kind: 'live'; appName: string; host: string; live: { slot: SlotName; port: number; commit?: string | null }; standby?: { slot: SlotName; port: number } }
  | { kind: 'passive'; appName: string; host: string; ports: number[] }
  | { kind: 'per-slot'; appName: string; host: string; ports: Record<SlotName, number> };

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
  const address = (port: number) => `${layout.host.includes(':') ? `[${layout.host}]` : layout.host}:${port}`;
  const lines = ['# Written by Switchyard; do not edit: the next deploy or rollback rewrites it.'];
  if (layout.kind === 'live') {
    const commit = layout.live.commit ? ` at ${layout.live.commit.slice(0, 12)}` : '';
    lines.push(`# live: slot ${layout.live.slot}${commit}`);
    lines.push(`upstream ${name} {`);
    lines.push(`    server ${address(layout.live.port)} max_fails=0;`);
    if (layout.standby && layout.standby.port !== layout.live.port) {
      lines.push(`    server ${address(layout.standby.port)} max_fails=0 backup;  # slot ${layout.standby.slot}, only if the live slot refuses`);
    }
  } else if (layout.kind === 'per-slot') {
    // Never changes with a deploy, so a deploy never reloads nginx: the site picks a group per request
    // from the live-file (see templates/nginx/site-live-file.conf). Each group keeps its own keep-alive pool.
    lines.push('# nginx-live-file: one group per slot (that slot first, the other as backup); the site picks one per request');
    lines.push('# from which live-file exists; switchyard_<app> (both, round robin) is the fallback if it sees neither.');
    const group = (groupName: string, servers: string[]) => {
      lines.push(`upstream ${groupName} {`);
      for (const server of servers) lines.push(`    server ${server};`);
      lines.push('    keepalive 32;');
      lines.push('    keepalive_timeout 1s;');
      lines.push('}');
    };
    const { a, b } = layout.ports;
    group(`${name}_a`, [`${address(a)} max_fails=0`, `${address(b)} max_fails=0 backup`]);
    group(`${name}_b`, [`${address(b)} max_fails=0`, `${address(a)} max_fails=0 backup`]);
    group(name, [`${address(a)} max_fails=0`, `${address(b)} max_fails=0`]);
    return `${lines.join('\n')}\n`;
  } else {
    lines.push('# passive: both slots always listed; nginx moves to whichever accepts connections');
    lines.push(`upstream ${name} {`);
    for (const port of layout.ports) lines.push(`    server ${address(port)} max_fails=0;`);
  }
  lines.push('    keepalive 32;');
  // Shorter than the app's idle timeouts (Node's keepAliveTimeout 5s, the drain helper's idleClose 2s),
  // so nginx, never the app, closes an idle connection: no request is ever written to a closing socket.
  lines.push('    keepalive_timeout 1s;');
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Which port the file sends traffic to first; undefined when it is not one of ours or not parseable. Pure. */
export function parseLivePort(text: string): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^\s*server\s+\S+:(\d+)\b([^;]*);/.exec(line);
    if (match && !/\bbackup\b/.test(match[2])) return Number(match[1]);
  }
  return undefined;
}

/** The upstream file for the configuration's mode and the state's live slot (slot a before any deploy). Pure. */
export function upstreamFor(config: Config, state: State): { content: string; live: SlotName } {
  const live = state.live ?? 'a';
  const standby: SlotName = live === 'a' ? 'b' : 'a';
  const base = { appName: config.appName, host: config.host };
  const content =
    config.switchKind === 'passive'
      ? renderUpstream({ kind: 'passive', ...base, ports: [config.ports.a, config.ports.b] })
      : config.switchKind === 'nginx-live-file'
        ? renderUpstream({ kind: 'per-slot', ...base, ports: config.ports })
        : renderUpstream({ kind: 'live', ...base, live: { slot: live, port: config.ports[live], commit: state.slots[live].commit }, standby: { slot: standby, port: config.ports[standby] } });
  return { content, live };
}
