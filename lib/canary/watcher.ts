import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { paths } from '../host/paths.ts';
import { commandLine, isAlive } from '../host/process.ts';
import { spawnDetached } from '../host/run.ts';
import { DEPLOY_TS } from '../project-dir.ts';

/** The detached `./deploy.ts canary-watch`: its own session, so it outlives the deploy and its SSH connection. */

export function canaryLogFile(deployRoot: string): string {
  return path.join(paths.run(deployRoot), 'canary.log');
}

/** Whether `pid` is a canary-watch process (a recorded pid can outlive its process and be reused). */
export function isCanaryWatcher(pid: number | null | undefined): boolean {
  return Boolean(pid && isAlive(pid) && commandLine(pid)?.includes('canary-watch'));
}

/** Start the watcher; its output goes to DEPLOY_ROOT/run/canary.log (and the deploy's own log). Returns its pid. */
export function startCanaryWatcher(config: Config, cliEnv: Record<string, string | undefined>, deployLog?: string): number {
  const logFd = openSync(canaryLogFile(config.deployRoot), 'a', 0o600);
  try {
    const env = { ...cliEnv, DEPLOY_ENV_FILE: config.envFile, ...(deployLog ? { SWITCHYARD_DEPLOY_LOG: deployLog } : {}) };
    return spawnDetached([DEPLOY_TS, 'canary-watch', '--no-color'], { cwd: config.deployRoot, env, logFd });
  } finally {
    closeSync(logFd);
  }
}
