import { closeSync, constants, fstatSync, lstatSync, openSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { formatMode, userName } from '../host/file-owner.ts';

/**
 * A hook runs what was checked: its file is opened once, the open file is checked (owner, mode,
 * a regular executable file), and the child executes that very open file through /proc, so a file
 * or folder swapped in after the check is never run. And the folders above HOOKS_DIR must be
 * writable only by their owner (the deploy user or root), so nobody else can swap a folder at all.
 */

const STICKY = 0o1000;

const trusted = (owner: number, uid: number) => owner === uid || owner === 0;

/** Every folder from `dir` up to `/`, along the path as written and along the path it resolves to. */
function foldersAbove(dir: string): string[] {
  const chain = (start: string) => {
    const folders: string[] = [];
    for (let current = path.resolve(start); ; current = path.dirname(current)) {
      folders.push(current);
      if (current === path.dirname(current)) return folders;
    }
  };
  let real: string[] = [];
  try {
    real = chain(realpathSync(dir));
  } catch {
    // A missing folder has no hooks; findHookProblems says so if it matters.
  }
  return [...new Set([...chain(dir).slice(1), ...real.slice(1)])];
}

/**
 * Why another user could replace `dir` or a folder above it: one owned by someone other than
 * `uid` or root, or writable by group or others without the sticky bit (/tmp is fine: only an
 * entry's owner may rename it there). [] when none. Reads only.
 */
export function findFolderChainProblems(dir: string, uid: number = process.getuid?.() ?? 0, what = `HOOKS_DIR ${dir}`): string[] {
  const problems: string[] = [];
  for (const folder of foldersAbove(dir)) {
    let stat: Stats;
    try {
      stat = statSync(folder);
    } catch {
      continue;
    }
    if (!trusted(stat.uid, uid)) problems.push(`${folder}, above ${what}, belongs to ${userName(stat.uid)}, who could swap the hooks (fix: chown root ${folder}, or move HOOKS_DIR)`);
    else if (stat.mode & 0o022 && !(stat.mode & STICKY)) problems.push(`${folder}, above ${what}, is writable by other users, who could swap the hooks (mode ${formatMode(stat.mode)}; fix: chmod go-w ${folder}, or move HOOKS_DIR)`);
  }
  return problems;
}

/** A hook file opened and checked; `path` executes exactly that open file. close() once the hook has ended. */
export type CheckedHook = { fd: number; path: string; close(): void };

/** Open `file`, check the open file (a regular file of `uid` or root, not writable by others, executable), and return a path to run it by. */
export function openCheckedHook(file: string, uid: number = process.getuid?.() ?? 0): CheckedHook {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted in place of the hook must not hang the deploy in open().
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new SwitchyardError(`hook ${file} cannot be opened (${(error as NodeJS.ErrnoException).code})`, { next: `check that ${file} is a readable file` });
  }
  const problem = checkOpenHook(fstatSync(fd), uid);
  if (problem) {
    closeSync(fd);
    throw new SwitchyardError(`hook ${file} will not be run: it ${problem}`, { next: `check ${file}, fix it, then run this again` });
  }
  return { fd, path: `/proc/${process.pid}/fd/${fd}`, close: () => closeSync(fd) };
}

/** What is wrong with a hook's open file, or undefined. Pure. */
export function checkOpenHook(stat: Pick<Stats, 'uid' | 'mode' | 'isFile'>, uid: number): string | undefined {
  if (!stat.isFile()) return 'is not a regular file';
  if (!trusted(stat.uid, uid)) return `belongs to ${userName(stat.uid)}`;
  if (stat.mode & 0o022) return `is writable by other users (mode ${formatMode(stat.mode)})`;
  if (!(stat.mode & 0o111)) return 'is not executable';
  return undefined;
}

/** Whether `file` is a symlink (its target's folders then need the same check as HOOKS_DIR's). */
export function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
