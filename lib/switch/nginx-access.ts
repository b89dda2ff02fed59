import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readPidFile } from '../process.ts';
import { childPids } from './nginx-workers.ts';

/** Whether nginx's workers, which run as another user when the master is root, can reach a file Switchyard writes. */

export type Identity = { uid: number; gids: number[]; name: string };
export type DirMode = { dir: string; mode: number; uid: number; gid: number };

/** The user and groups of nginx's workers, read from /proc; undefined when the pid file or /proc cannot tell. */
export function nginxWorkerIdentity(pidFile: string): Identity | undefined {
  const master = readPidFile(pidFile);
  const worker = master === undefined ? undefined : childPids(master)[0];
  if (worker === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${worker}/status`, 'utf8');
    const field = (name: string) => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const uid = field('Uid')[1];
    const gids = [field('Gid')[1], ...field('Groups')];
    if (uid === undefined || Number.isNaN(uid)) return undefined;
    return { uid, gids, name: userName(uid) };
  } catch {
    return undefined;
  }
}

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

export function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (Number(id) === uid && name) return name;
    }
  } catch {
    // No passwd file: the number has to do.
  }
  return String(uid);
}
