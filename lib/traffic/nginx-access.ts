import { statSync } from 'node:fs';
import path from 'node:path';
import type { Endpoint } from '../slot/endpoints.ts';
import { nginxWorkerIdentity, userName, type Identity } from '../host/workers.ts';

/** Whether nginx's workers, which run as another user when the master is root, can reach a file Switchyard writes. */

export type DirMode = { dir: string; mode: number; uid: number; gid: number };

/** The first folder on the way to `file` that `who` may not search (x), or undefined when all allow it. Pure. */
export function firstBlockedDir(dirs: DirMode[], who: Identity): DirMode | undefined {
  if (who.uid === 0) return undefined;
  return dirs.find(({ mode, uid, gid }) => {
    if (uid === who.uid) return (mode & 0o100) === 0;
    if (who.gids.includes(gid)) return (mode & 0o010) === 0;
    return (mode & 0o001) === 0;
  });
}

/** Every folder from / down to the one holding `file`, with its mode and owner; stops at the first that does not exist. */
export function dirsOnTheWay(file: string): DirMode[] {
  const result: DirMode[] = [];
  let dir = path.dirname(path.resolve(file));
  const chain: string[] = [];
  for (;;) {
    chain.unshift(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const each of chain) {
    try {
      const stat = statSync(each);
      result.push({ dir: each, mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid });
    } catch {
      break;
    }
  }
  return result;
}

/** One line naming why nginx's workers cannot reach `file`, with the fix; undefined when they can (or we cannot tell). */
export function unreachableByWorkers(file: string, pidFile: string): string | undefined {
  const who = nginxWorkerIdentity(pidFile);
  if (!who) return undefined;
  const blocked = firstBlockedDir(dirsOnTheWay(file), who);
  if (!blocked) return undefined;
  return `nginx workers run as ${who.name} (uid ${who.uid}) and cannot reach ${file}: ${blocked.dir} is mode ${blocked.mode.toString(8).padStart(4, '0')} owned by ${userName(blocked.uid)}; let them through with \`chmod o+x ${blocked.dir}\` (search only, no listing) or set NGINX_LIVE_DIR to a folder they can reach`;
}

/** Whether `who` may write (connect to) a socket file with this mode and owner. Pure. */
export function mayWrite(file: { mode: number; uid: number; gid: number }, who: Identity): boolean {
  if (who.uid === 0) return true;
  if (file.uid === who.uid) return (file.mode & 0o200) !== 0;
  if (who.gids.includes(file.gid)) return (file.mode & 0o020) !== 0;
  return (file.mode & 0o002) !== 0;
}

/**
 * SLOT_LISTEN=socket: one line naming why nginx's workers cannot connect to a slot's socket (a
 * folder on the way they may not pass, or a socket they may not write), with the fix; undefined when they can.
 */
export function socketUnreachableByWorkers(socketPath: string, pidFile: string): string | undefined {
  const who = nginxWorkerIdentity(pidFile);
  if (!who) return undefined;
  const blocked = firstBlockedDir(dirsOnTheWay(socketPath), who);
  if (blocked) {
    return `nginx workers run as ${who.name} (uid ${who.uid}) and cannot reach ${socketPath}: ${blocked.dir} is mode ${blocked.mode.toString(8).padStart(4, '0')} owned by ${userName(blocked.uid)} (group ${blocked.gid}); give that folder to their group (\`chgrp ${who.gids[0]} ${blocked.dir}\`, then any command fixes its mode) or add the deploy user to their group`;
  }
  let stat;
  try {
    stat = statSync(socketPath);
  } catch {
    return `${socketPath} does not exist: the app did not listen on the socket it was given in PORT`;
  }
  if (!mayWrite({ mode: stat.mode, uid: stat.uid, gid: stat.gid }, who)) {
    return `nginx workers run as ${who.name} (uid ${who.uid}) and may not connect to ${socketPath} (mode ${(stat.mode & 0o777).toString(8)}, group ${stat.gid}): the app changed its umask or the socket's mode; let the socket keep the mode it is created with (0660 under the supervisor's umask 007)`;
  }
  return undefined;
}

/** The first of a slot's sockets nginx's workers cannot connect to, in words; undefined for ports or when all are reachable. */
export function socketsUnreachable(target: { endpoints: Endpoint[] }, pidFile: string): string | undefined {
  for (const endpoint of target.endpoints) {
    const problem = endpoint.kind === 'socket' ? socketUnreachableByWorkers(endpoint.path, pidFile) : undefined;
    if (problem) return problem;
  }
  return undefined;
}
