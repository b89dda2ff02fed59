import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { Config, SlotName } from '../config/config.ts';
import { paths } from '../host/paths.ts';
import { fileArgv } from '../host/commands/file.ts';
import { runCommand } from '../host/run.ts';

/** The files of releases and slots: release folders, the slot symlinks, the install cache. */

export function releaseDir(config: Config, commit: string): string {
  return paths.release(config.deployRoot, commit);
}

/** The release folder a slot runs: where its symlink points, or the slot folder itself (a build from before releases). */
export function slotTarget(config: Config, slot: SlotName): string | undefined {
  const link = paths.slot(config.deployRoot, slot);
  try {
    const stat = lstatSync(link);
    if (!stat.isSymbolicLink()) return stat.isDirectory() ? link : undefined;
    return path.resolve(path.dirname(link), readlinkSync(link));
  } catch {
    return undefined;
  }
}

/**
 * Point the slot at a release folder: a new symlink renamed over the old one, so the slot always
 * names a folder. A real folder left there by a version before releases is moved aside first: into
 * releases/<commit> when the state knows its commit (it stays a rollback target), else removed.
 */
export function linkSlot(config: Config, slot: SlotName, target: string, legacyCommit: string | null): 'moved' | undefined {
  const link = paths.slot(config.deployRoot, slot);
  mkdirSync(path.dirname(link), { recursive: true, mode: 0o700 });
  let moved: 'moved' | undefined;
  if (existsSync(link) && !lstatSync(link).isSymbolicLink()) {
    const keepAs = legacyCommit ? releaseDir(config, legacyCommit) : undefined;
    if (keepAs && !existsSync(keepAs) && path.resolve(target) !== path.resolve(link)) {
      mkdirSync(path.dirname(keepAs), { recursive: true, mode: 0o700 });
      renameSync(link, keepAs);
      moved = 'moved';
    } else if (path.resolve(target) !== path.resolve(link)) {
      rmSync(link, { recursive: true, force: true });
    } else {
      return undefined;
    }
  }
  const temp = `${link}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  symlinkSync(path.relative(path.dirname(link), target), temp);
  renameSync(temp, link);
  return moved;
}

const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb'];

/**
 * The install cache's key: the lockfile's content, INSTALL_CMD and the Node version (native modules).
 * Undefined without a lockfile: then nothing says two installs would give the same tree.
 */
export function installKey(dir: string, installCmd: string): string | undefined {
  const lockfile = LOCKFILES.find((name) => existsSync(path.join(dir, name)));
  if (!lockfile || !installCmd.trim()) return undefined;
  const hash = createHash('sha256');
  hash.update(`${lockfile}\0${installCmd}\0${process.version}\0${process.arch}\0`);
  hash.update(readFileSync(path.join(dir, lockfile)));
  return hash.digest('hex').slice(0, 32);
}

/**
 * Give a new release the dependencies of a kept one with the same install key: a copy-on-write copy
 * where the filesystem can (`cp --reflink=auto`: btrfs, XFS), a plain copy elsewhere; never hard
 * links, since a build step that rewrites a file under node_modules in place (`prisma generate`)
 * would then change the kept release's copy, which is often the live one.
 */
export async function reuseDependencies(
  fromDir: string,
  toDir: string,
  env: Record<string, string | undefined>,
  signal?: AbortSignal,
): Promise<boolean> {
  const source = path.join(fromDir, 'node_modules');
  const target = path.join(toDir, 'node_modules');
  rmSync(target, { recursive: true, force: true });
  if (!existsSync(source)) return false;
  await runCommand(fileArgv.copyTree(source, target), { signal, env });
  return true;
}

export function removeRelease(config: Config, commit: string): void {
  rmSync(releaseDir(config, commit), { recursive: true, force: true });
}

/** Bytes on disk of a folder; hard links counted once. */
export function folderSize(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (current: string) => {
    let entries: string[];
    try {
      entries = readdirSync(current);
    } catch {
      return;
    }
    for (const name of entries) {
      const full = path.join(current, name);
      try {
        const stat = lstatSync(full);
        const id = `${stat.dev}:${stat.ino}`;
        if (seen.has(id)) continue;
        seen.add(id);
        if (stat.isDirectory()) walk(full);
        else total += stat.blocks * 512;
      } catch {
        // Gone while we looked.
      }
    }
  };
  walk(dir);
  return total;
}
