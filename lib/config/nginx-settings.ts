import path from 'node:path';
import { SLOTS, type SlotName } from './slots.ts';
import { checkUrlFor, nginxPathProblem, parseListen } from './values.ts';
import type { TlsConfig } from './tls.ts';

/** The nginx keys of the site (where it listens, its names, its paths), validated; problems pushed in the configuration's words. Pure. */

type NginxKey = 'NGINX_LISTEN' | 'NGINX_SERVER_NAME' | 'NGINX_STICKY_PATHS' | 'NGINX_UPSTREAM_FILE' | 'NGINX_LIVE_DIR' | 'NGINX_ACCESS_LOG';
type Value = (key: NginxKey) => string;

/** NGINX_LISTEN (never a slot's own port), NGINX_SERVER_NAME and NGINX_STICKY_PATHS. */
export function parseNginxFront(
  value: Value,
  slots: { ports: Record<SlotName, number>; width: number; slotListen: string; switchKind: string },
  problems: string[],
): { listen: string; listenPort: number | undefined; serverName: string; stickyPaths: string[] } {
  const { ports, width } = slots;
  const listen = value('NGINX_LISTEN');
  const listenPort = parseListen(listen);
  if (listenPort === undefined) problems.push(`NGINX_LISTEN must be a port or address:port such as 80, 8080 or 127.0.0.1:8080; got ${JSON.stringify(listen)}`);
  else if (slots.slotListen === 'port' && slots.switchKind !== 'command' && slots.switchKind !== 'none') {
    // nginx holds its listen port: a slot started there could never bind, and every deploy to it would fail its health check.
    for (const slot of SLOTS) {
      if (listenPort >= ports[slot] && listenPort <= ports[slot] + width - 1) problems.push(`NGINX_LISTEN's port ${listenPort} is also slot ${slot}'s (PORT_${slot.toUpperCase()}${width > 1 ? ` with INSTANCES=${width}` : ''}): nginx listens there itself; give the slots other ports`);
    }
  }
  const serverName = value('NGINX_SERVER_NAME').trim();
  if (!/^[A-Za-z0-9.*_~^$-]+( [A-Za-z0-9.*_~^$-]+)*$/.test(serverName)) problems.push(`NGINX_SERVER_NAME must be _ or host names separated by spaces, such as shop.example.com; got ${JSON.stringify(serverName)}`);
  const stickyPaths = value('NGINX_STICKY_PATHS').split(/\s+/).filter(Boolean);
  for (const sticky of stickyPaths) if (!/^\/[A-Za-z0-9._~\/-]*$/.test(sticky)) problems.push(`NGINX_STICKY_PATHS must hold path prefixes such as /socket.io/ (letters, digits, . _ ~ - /); got ${JSON.stringify(sticky)}`);
  return { listen, listenPort, serverName, stickyPaths };
}

/** NGINX_CHECK_URL, or the URL of the plain-HTTP server the switch checks through (NGINX_LISTEN, or NGINX_CHECK_LISTEN with TLS). */
export function parseCheckUrl(
  given: string | undefined,
  front: { listen: string; listenPort: number | undefined },
  tls: TlsConfig,
  problems: string[],
): string {
  const checkListen = tls.mode === 'off' ? front.listen : tls.checkListen;
  const checkUrl = given || (parseListen(checkListen) ? checkUrlFor(checkListen) : '');
  if ((checkUrl || front.listenPort) && !/^http:\/\//.test(checkUrl)) problems.push(`NGINX_CHECK_URL must be an http:// URL (a loopback address of nginx); got ${JSON.stringify(checkUrl)}`);
  return checkUrl;
}

/** NGINX_UPSTREAM_FILE, NGINX_LIVE_DIR (checked only in the nginx modes, whose site names them) and NGINX_ACCESS_LOG. */
export function parseNginxPaths(
  value: Value,
  raw: (key: NginxKey) => string | undefined,
  where: { baseDir: string; deployRoot: string; switchKind: string },
  problems: string[],
): { upstreamFile: string; liveDir: string; accessLog: string | null } {
  const upstreamGiven = raw('NGINX_UPSTREAM_FILE');
  const upstreamFile = upstreamGiven ? path.resolve(where.baseDir, upstreamGiven) : path.join(where.deployRoot, 'nginx', 'upstream.conf');
  const liveDirGiven = raw('NGINX_LIVE_DIR');
  const liveDir = liveDirGiven ? path.resolve(where.baseDir, liveDirGiven) : path.dirname(upstreamFile);
  if (['nginx-live-file', 'nginx-reload', 'passive'].includes(where.switchKind)) {
    const named = [
      ['NGINX_UPSTREAM_FILE', upstreamGiven || undefined, upstreamFile, 'DEPLOY_ROOT/nginx/upstream.conf'],
      ['NGINX_LIVE_DIR', liveDirGiven || undefined, liveDir, 'the folder of NGINX_UPSTREAM_FILE'],
    ] as const;
    for (const [key, given, resolved, from] of named) {
      // path.resolve() would fold a '..' away: the value as written must not hold one either.
      const wrong = nginxPathProblem(given?.includes('..') ? given : resolved);
      if (wrong) problems.push(`${key} ${wrong}; got ${JSON.stringify(given ?? resolved)}${given === undefined ? ` (its default, ${from})` : given !== resolved ? ` (${resolved})` : ''}`);
    }
  }
  const accessLogGiven = value('NGINX_ACCESS_LOG').trim();
  const accessLog = accessLogGiven === 'off' ? null : accessLogGiven;
  const accessLogWrong = accessLog === null ? undefined : nginxPathProblem(accessLog);
  if (accessLogWrong) problems.push(`NGINX_ACCESS_LOG ${accessLogWrong}, or off; got ${JSON.stringify(accessLogGiven)}`);
  return { upstreamFile, liveDir, accessLog };
}
