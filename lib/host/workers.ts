import { readFileSync } from 'node:fs';
import { readPidFile } from './process.ts';
import { childPids, procIdentity } from './proc.ts';

/** Who a root nginx's workers run as: they, not the deploy user, must reach the live-files and slot sockets. */

export type Identity = { uid: number; gids: number[]; name: string };

/** The user and groups of nginx's workers, read from /proc; undefined when the pid file or /proc cannot tell. */
export function nginxWorkerIdentity(pidFile: string): Identity | undefined {
  const master = readPidFile(pidFile);
  const worker = master === undefined ? undefined : childPids(master)[0];
  if (worker === undefined) return undefined;
  const identity = procIdentity(worker);
  return identity && { ...identity, name: userName(identity.uid) };
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
