import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { NGINX_DIR_MODE, ROOT_MODE } from '../../host/deploy-root.ts';
import { formatMode, userName } from '../../host/file-owner.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

export type DirFacts = { exists: boolean; uid?: number; mode?: number; writable?: boolean };

function dirFacts(dir: string): DirFacts {
  try {
    const stat = statSync(dir);
    let writable = true;
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      writable = false;
    }
    return { exists: true, uid: stat.uid, mode: stat.mode & 0o7777, writable };
  } catch {
    return { exists: false };
  }
}

/** DEPLOY_ROOT as lib/host/deploy-root.ts keeps it: ours, 0711, its nginx/ folder 0755. Pure. */
export function judgeDeployRoot(
  root: string,
  nginxDir: string | undefined,
  facts: { root: DirFacts; nginx?: DirFacts },
  me: { uid: number; name: string },
): CheckResult {
  if (!facts.root.exists) return fail(`${root} does not exist`, `./deploy.ts init (or: sudo install -d -m 711 -o ${me.name} ${root})`);
  if (facts.root.uid !== me.uid) {
    return fail(`${root} belongs to ${userName(facts.root.uid!)}, and Switchyard runs as ${me.name}`, `sudo chown -R ${me.name} ${root}   (or run Switchyard as ${userName(facts.root.uid!)})`);
  }
  if (!facts.root.writable) return fail(`${root} is not writable by ${me.name} (mode ${formatMode(facts.root.mode!)})`, `chmod 711 ${root} (u+rwx)`);
  if (facts.root.mode !== ROOT_MODE) return fail(`${root} is mode ${formatMode(facts.root.mode!)}, not 0711 (others must pass through to nginx/, and list nothing)`, `chmod 711 ${root}   (any deploy or ./deploy.ts init also sets it)`);
  if (nginxDir && facts.nginx?.exists && facts.nginx.mode !== NGINX_DIR_MODE) {
    return fail(`${nginxDir} is mode ${formatMode(facts.nginx.mode!)}, not 0755 (nginx's workers read the live-file there)`, `chmod 755 ${nginxDir}`);
  }
  return pass(`${root}: owner ${me.name}, mode 0711${nginxDir && facts.nginx?.exists ? ', nginx/ 0755' : ''}`);
}

export function checkDeployRoot(ctx: CheckContext): CheckResult {
  const root = ctx.config.deployRoot;
  const nginxDir = ctx.config.switchKind === 'command' ? undefined : [path.dirname(ctx.config.nginx.upstreamFile), ctx.config.nginx.liveDir].find((dir) => path.dirname(dir) === root);
  const uid = process.getuid?.() ?? -1;
  return judgeDeployRoot(
    root,
    nginxDir,
    { root: dirFacts(root), nginx: nginxDir ? dirFacts(nginxDir) : undefined },
    { uid, name: userName(uid) },
  );
}

export const MIN_FREE_BYTES = 1024 ** 3;

/** Free space where DEPLOY_ROOT is (or would be): a build needs room for node_modules. */
export function checkDiskSpace(ctx: CheckContext): CheckResult {
  let dir = ctx.config.deployRoot;
  while (!dirFacts(dir).exists && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const text = `${(free / 1024 ** 3).toFixed(1)} GiB free in ${dir}`;
  return free >= MIN_FREE_BYTES ? pass(text) : fail(`only ${text} (a build needs room for its node_modules; at least 1 GiB)`, `free space: df -h ${dir}; du -sh ${ctx.config.deployRoot}/* | sort -h`);
}
