import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { ensureAppEnvFile } from './app-env-file.ts';
import { paths } from './paths.ts';
import { removeDeadTempFiles } from './stale-temp.ts';
import { nginxWorkerIdentity, type Identity } from './workers.ts';

/**
 * DEPLOY_ROOT is private: 0711, so other users (nginx's workers among them) may pass through to a
 * folder whose name they know but may list and read nothing; everything in it is 0700/0600 except
 * the folder nginx must read (the upstream file and the live-files), which is 0755/0644.
 */
export const ROOT_MODE = 0o711;
export const NGINX_DIR_MODE = 0o755;
/**
 * SLOT_LISTEN=socket: the sockets' folder belongs to nginx's workers' group, which may only pass
 * through (x); setgid, so each socket the app creates gets that group too, and the supervisor's
 * umask 007 makes it group-writable: nginx's workers can connect and nobody else can reach it.
 */
export const SOCKET_DIR_MODE = 0o2710;

/** What to change so the modes are as above. Pure: takes what is on disk, returns the chmods. */
export function plannedModes(
  entries: { path: string; mode: number; uid: number; isDir: boolean }[],
  ownUid: number,
  nginxDirs: string[],
  socketDir?: string,
): { path: string; mode: number }[] {
  const changes: { path: string; mode: number }[] = [];
  for (const entry of entries) {
    if (entry.uid !== ownUid) continue;
    const mode = entry.mode & 0o7777;
    const wanted =
      entry.isDir && nginxDirs.includes(entry.path) ? NGINX_DIR_MODE
      : entry.isDir && entry.path === socketDir ? SOCKET_DIR_MODE
      : mode & 0o700;
    if (mode !== wanted) changes.push({ path: entry.path, mode: wanted });
  }
  return changes;
}

/**
 * Create DEPLOY_ROOT (and the nginx folder in it) with the modes above, or tighten them where an
 * earlier version or an operator left them open. A root owned by someone else that others can read
 * is refused: we cannot fix it and must not write secrets into it.
 */
export function prepareDeployRoot(config: Config): void {
  const root = config.deployRoot;
  const ownUid = process.getuid?.() ?? -1;
  try {
    mkdirSync(root, { recursive: true, mode: ROOT_MODE });
  } catch (error) {
    throw new SwitchyardError(`DEPLOY_ROOT ${root} is not a writable folder (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      untouched: 'nothing was changed',
      next: `create it as root for the deploy user (sudo install -d -m 711 -o $(id -un) ${root}), or fix DEPLOY_ROOT`,
    });
  }
  const rootStat = statSync(root);
  if (!rootStat.isDirectory()) {
    throw new SwitchyardError(`DEPLOY_ROOT ${root} is not a writable folder (ENOTDIR)`, { untouched: 'nothing was changed', next: 'point DEPLOY_ROOT at a folder' });
  }
  if (rootStat.uid !== ownUid) {
    if ((rootStat.mode & 0o044) !== 0) {
      throw new SwitchyardError(`DEPLOY_ROOT ${root} belongs to another user and others can list it (mode ${(rootStat.mode & 0o7777).toString(8)})`, {
        untouched: 'nothing was changed',
        next: `make the deploy user its owner (sudo chown $(id -un) ${root}) or run \`sudo chmod 711 ${root}\``,
      });
    }
    return;
  }
  if ((rootStat.mode & 0o7777) !== ROOT_MODE) chmodSync(root, ROOT_MODE);
  // SWITCH=command never writes an nginx file: no folder for it.
  const nginxDirs = config.switchKind === 'command' ? [] : [path.dirname(config.nginx.upstreamFile), config.nginx.liveDir].filter((dir) => path.dirname(dir) === root);
  for (const dir of nginxDirs) mkdirSync(dir, { recursive: true, mode: NGINX_DIR_MODE });
  // Made here, not by git or the first start, so they never exist with the umask's 0755.
  for (const dir of [path.dirname(paths.slot(root, 'a')), paths.run(root)]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A command killed while writing the state (or the upstream) left its temp file: nobody else will remove it.
  for (const dir of [root, ...nginxDirs]) removeDeadTempFiles(dir);
  const entries = readdirSync(root).flatMap((name) => {
    const full = path.join(root, name);
    // Another command holding the lock may rename its temp file away meanwhile (the state store, lib/record/store.ts): gone is fine.
    const stat = lstatIfThere(full);
    if (!stat) return [];
    // A symlink's own mode means nothing; what it points to is not ours to change.
    return stat.isSymbolicLink() ? [] : [{ path: full, mode: stat.mode, uid: stat.uid, isDir: stat.isDirectory() }];
  });
  const socketDir = config.slotListen === 'socket' ? config.socketDir : undefined;
  if (socketDir) prepareSocketDir(socketDir, nginxWorkerIdentity(config.nginx.pidFile));
  for (const change of plannedModes(entries, ownUid, nginxDirs, socketDir)) chmodIfThere(change.path, change.mode);
  ensureAppEnvFile(config);
}

function lstatIfThere(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function chmodIfThere(file: string, mode: number): void {
  try {
    chmodSync(file, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * The sockets' folder, given to nginx's workers' group (read from the running nginx). Without a
 * running nginx the group is left as it is, and the switch's reachability check says what to do.
 */
function prepareSocketDir(dir: string, workers: Identity | undefined): void {
  mkdirSync(dir, { recursive: true, mode: SOCKET_DIR_MODE });
  const stat = statSync(dir);
  const group = workers?.uid === 0 ? undefined : workers?.gids[0];
  if (group !== undefined && stat.gid !== group) {
    try {
      chownSync(dir, -1, group);
    } catch (error) {
      throw new SwitchyardError(`cannot give ${dir} to the group of nginx's workers (${workers?.name}, gid ${group}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        untouched: 'nothing was started or switched',
        next: `add the deploy user to that group (\`sudo usermod -aG ${group} $(id -un)\`, then log in again) or run \`sudo chgrp ${group} ${dir}\``,
      });
    }
  }
  if ((statSync(dir).mode & 0o7777) !== SOCKET_DIR_MODE) chmodSync(dir, SOCKET_DIR_MODE);
}
