import { accessSync, constants, existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TSX_REGISTER } from '../project-dir.ts';
import type { HookRunner } from './types.ts';
import { SwitchyardError, withContext } from '../errors.ts';
import { formatMode, userName } from '../host/file-owner.ts';
import { cleanGitEnv } from '../release/git.ts';
import type { Reporter } from '../cli/reporter.ts';
import { runCommand } from '../host/run.ts';
import { findFolderChainProblems, isSymlink, openCheckedHook, type CheckedHook } from './hook-file.ts';

/** substitute's hook points, in the order a deploy reaches them (`failed` runs instead of the rest). */
export const HOOK_NAMES = ['begin', 'pre_checkout', 'pre_install', 'post_install', 'pre_start', 'post_start', 'running', 'pre_stop', 'post_stop', 'end', 'failed'] as const;


/**
 * The hook file for a point: `NAME` (any executable, any language) or `NAME.ts`, run by zx with tsx
 * (zx's `$`, `cd`, `fetch` are globals; the hooks folder needs a package.json with "type": "module").
 */
export function findHook(hooksDir: string, name: string): { file: string; argv: string[] } | undefined {
  const plain = path.join(hooksDir, name);
  if (existsSync(plain) && statSync(plain).isFile()) return { file: plain, argv: [plain] };
  const typescript = `${plain}.ts`;
  if (existsSync(typescript)) return { file: typescript, argv: [process.execPath, '--import', TSX_REGISTER, fileURLToPath(import.meta.resolve('zx/cli')), typescript] };
  return undefined;
}

/**
 * Every reason the hooks in `hooksDir` must not run, found before anything changes: a folder or hook
 * that another user could write (a hook planted there runs with the deploy user's rights, often
 * root), a hook owned by another user, a dangling symlink, a plain hook that is not executable.
 * [] when there are no hooks or all is well. A hook may belong to the deploy user or to root.
 */
export function findHookProblems(hooksDir: string, uid: number = process.getuid?.() ?? 0): string[] {
  const problems: string[] = [];
  let dir;
  try {
    dir = statSync(hooksDir);
  } catch {
    return [];
  }
  if (!dir.isDirectory()) return [`HOOKS_DIR ${hooksDir} is not a folder`];
  const trusted = (owner: number) => owner === uid || owner === 0;
  if (!trusted(dir.uid)) problems.push(`HOOKS_DIR ${hooksDir} belongs to ${userName(dir.uid)} (fix: chown ${userName(uid)} ${hooksDir})`);
  if (dir.mode & 0o022) problems.push(`HOOKS_DIR ${hooksDir} is writable by other users (mode ${formatMode(dir.mode)}; fix: chmod go-w ${hooksDir})`);
  problems.push(...findFolderChainProblems(hooksDir, uid));
  for (const name of HOOK_NAMES) {
    for (const file of [path.join(hooksDir, name), path.join(hooksDir, `${name}.ts`)]) {
      try {
        lstatSync(file);
      } catch {
        continue;
      }
      let stat;
      try {
        stat = statSync(file);
      } catch {
        problems.push(`hook ${file} is a dangling symlink (to ${readlinkSync(file)}; fix: point it at the hook or remove it)`);
        continue;
      }
      if (!stat.isFile()) {
        problems.push(`hook ${file} is not a file (fix: remove it)`);
        continue;
      }
      if (!trusted(stat.uid)) problems.push(`hook ${file} belongs to ${userName(stat.uid)} (fix: check it, then chown ${userName(uid)} ${file})`);
      if (stat.mode & 0o022) problems.push(`hook ${file} is writable by other users (mode ${formatMode(stat.mode)}; fix: chmod go-w ${file})`);
      if (!file.endsWith('.ts') && !isExecutable(file)) problems.push(`hook ${file} is not executable (fix: chmod +x ${file})`);
      if (isSymlink(file)) problems.push(...findFolderChainProblems(realpathSync(file), uid, `hook ${file}'s target`));
    }
  }
  return problems;
}

/** Refuse to run any hook of `hooksDir` while findHookProblems() names one; call before anything changes. */
export function checkHooks(hooksDir: string): void {
  const problems = findHookProblems(hooksDir);
  if (problems.length === 0) return;
  throw new SwitchyardError(`hooks in ${hooksDir} will not be run: ${problems.join('; ')}`, {
    untouched: 'nothing was changed',
    next: 'apply the fixes named above, then run this again',
    details: problems,
  });
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    // root passes X_OK if anyone may execute; a hook nobody may execute is still a mistake.
    return (statSync(file).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The deploy's facts as SWITCHYARD_* variables. Pure. */
export function hookEnvironment(name: string, facts: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { SWITCHYARD_HOOK: name };
  for (const [key, value] of Object.entries(facts)) env[`SWITCHYARD_${key}`] = value;
  return env;
}

/** Runs hooks with the deploy user's rights, output streamed with a prefix; a failing hook throws. */
export function createHookRunner(
  hooksDir: string,
  reporter: Reporter,
  baseEnv: Record<string, string | undefined>,
  signal: AbortSignal,
): HookRunner {
  // Refused hooks never run, `failed` included; each hook is checked again right before it runs.
  let refused = false;
  return async (name, facts) => {
    if (refused) return;
    refused = true;
    checkHooks(hooksDir);
    refused = false;
    const hook = findHook(hooksDir, name);
    if (!hook) return;
    // A plain hook runs through the file descriptor that was checked: a file swapped in after the check is not what runs.
    let opened: CheckedHook | undefined;
    if (hook.argv[0] === hook.file) {
      if (!isExecutable(hook.file)) throw new SwitchyardError(`hook ${hook.file} is not executable`, { next: `chmod +x ${hook.file}` });
      opened = openCheckedHook(hook.file);
    }
    const step = reporter.step(`hook ${name}`);
    try {
      await runCommand(opened ? [opened.path, ...hook.argv.slice(1)] : hook.argv, {
        cwd: facts.APP_DIR && existsSync(facts.APP_DIR) ? facts.APP_DIR : hooksDir,
        // A hook's own git commands act on the repository they name, not on one a caller's GIT_DIR points at.
        // SWITCHYARD_REASON quotes a failure, which may hold a secret the hook would then post somewhere.
        // $0 is /proc/PID/fd/N: SWITCHYARD_HOOK_FILE says where the hook lives.
        env: {
          ...cleanGitEnv(baseEnv),
          ...hookEnvironment(name, Object.fromEntries(Object.entries(facts).map(([key, value]) => [key, reporter.redact(value)]))),
          SWITCHYARD_HOOK_FILE: hook.file,
        },
        onLine: (line) => reporter.output(name, line),
        signal,
      });
    } catch (error) {
      step.fail();
      // The command ran as /proc/PID/fd/N: the operator reads the hook's own path.
      if (opened && error instanceof Error) error.message = error.message.split(opened.path).join(hook.file);
      throw withContext(error, `hook ${name} failed`);
    } finally {
      opened?.close();
    }
    step.done(path.basename(hook.file));
  };
}
