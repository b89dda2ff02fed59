import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HookRunner } from './cycle.ts';
import { SwitchyardError, withContext } from './errors.ts';
import { cleanGitEnv } from './git.ts';
import type { Reporter } from './output.ts';
import { runCommand } from './run.ts';

/** substitute's hook points, in the order a deploy reaches them (`failed` runs instead of the rest). */
export const HOOK_NAMES = ['begin', 'pre_checkout', 'pre_install', 'post_install', 'pre_start', 'post_start', 'running', 'pre_stop', 'post_stop', 'end', 'failed'] as const;

const TSX_REGISTER = fileURLToPath(new URL('./tsx-register.mjs', import.meta.url));

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

/** The deploy's facts as SWITCHYARD_* variables. Pure. */
export function hookEnvironment(name: string, facts: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { SWITCHYARD_HOOK: name };
  for (const [key, value] of Object.entries(facts)) env[`SWITCHYARD_${key}`] = value;
  return env;
}

/** Runs hooks with the deploy user's rights, output streamed with a prefix; a failing hook throws. */
export function createHookRunner(hooksDir: string, reporter: Reporter, baseEnv: Record<string, string | undefined>, signal: AbortSignal): HookRunner {
  return async (name, facts) => {
    const hook = findHook(hooksDir, name);
    if (!hook) return;
    if (hook.argv[0] === hook.file) {
      try {
        accessSync(hook.file, constants.X_OK);
      } catch {
        throw new SwitchyardError(`hook ${hook.file} is not executable`, { next: `chmod +x ${hook.file}` });
      }
    }
    const step = reporter.step(`hook ${name}`);
    try {
      await runCommand(hook.argv, {
        cwd: facts.APP_DIR && existsSync(facts.APP_DIR) ? facts.APP_DIR : hooksDir,
        // A hook's own git commands act on the repository they name, not on one a caller's GIT_DIR points at.
        // SWITCHYARD_REASON quotes a failure, which may hold a secret the hook would then post somewhere.
        env: { ...cleanGitEnv(baseEnv), ...hookEnvironment(name, Object.fromEntries(Object.entries(facts).map(([key, value]) => [key, reporter.redact(value)]))) },
        onLine: (line) => reporter.output(name, line),
        signal,
      });
    } catch (error) {
      step.fail();
      throw withContext(error, `hook ${name} failed`);
    }
    step.done(path.basename(hook.file));
  };
}
