import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwitchyardError } from '../errors.ts';
import { ensurePrivateDir, writeFileAtomic } from '../host/files.ts';
import { readLogTail } from './log-files.ts';
import { isAlive, isGroupAlive, readPidFile, stopGroup, type StopOutcome } from '../host/process.ts';
import { spawnDetached } from '../host/run.ts';
import { commandLine, procGone } from '../host/proc.ts';

/** What the supervisor (supervisor.mjs) writes to its status file. */
export type SupervisorStatus = {
  supervisorPid: number;
  appPid: number | null;
  starts: number;
  exits: { code: number | null; signal: string | null; at: string }[];
  state: 'running' | 'backoff' | 'stopping';
};

/** One app process managed by the built-in supervisor: its pid file, log and status live in runDir. */
export type AppFiles = { pidFile: string; logFile: string; statusFile: string };

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$/;

export function validateAppName(name: string): string | undefined {
  if (!NAME_PATTERN.test(name) || name.includes('..')) {
    return `app name must be letters, digits, '.', '_' or '-' (no '/', '..', spaces or control characters); got ${JSON.stringify(name)}`;
  }
  return undefined;
}

export function appFiles(runDir: string, name: string): AppFiles {
  const problem = validateAppName(name);
  if (problem) throw new SwitchyardError(problem, { untouched: 'nothing was changed', next: 'use a plain name such as myapp-a' });
  return {
    pidFile: path.join(runDir, `${name}.pid`),
    logFile: path.join(runDir, `${name}.log`),
    statusFile: path.join(runDir, `${name}.status.json`),
  };
}

export function readPid(files: AppFiles): number | undefined {
  return readPidFile(files.pidFile);
}

export function runningPid(files: AppFiles): number | undefined {
  const pid = readPid(files);
  return pid !== undefined && (isAlive(pid) || isGroupAlive(pid)) && isOurSupervisor(pid) ? pid : undefined;
}

/** A pid file can outlive its process and the pid be reused: only signal what is really our supervisor (or its group). */
export function isOurSupervisor(pid: number): boolean {
  const line = commandLine(pid);
  if (line !== undefined) return line.includes('supervisor.mjs');
  {
    // No /proc entry: the leader is gone but its group may live on (an orphaned app), which is still ours.
    return procGone(pid) ? isGroupAlive(pid) : true;
  }
}

export function readStatus(files: AppFiles): SupervisorStatus | undefined {
  try {
    return JSON.parse(readFileSync(files.statusFile, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Last lines of the app's log, across its rotated files (lib/slot/log-files.ts). */
export { readLogTail };

export type StartRequest = {
  name: string;
  dir: string;
  /** A port, or a unix socket's path (SLOT_LISTEN=socket: then `socket` is the same path). */
  port: number | string;
  socket?: string;
  host: string;
  command: string;
  runDir: string;
  /** The app's whole environment (lib/config/app-env.ts); PORT and HOST are added here. */
  env: Record<string, string | undefined>;
  /** The supervisor rotates the log past this size, keeping `logKeep` older files (LOG_MAX_SIZE, LOG_KEEP). */
  logMaxBytes?: number;
  logKeep?: number;
};

/** Start the app detached under the supervisor; returns the supervisor's pid (also the group id). */
export function startApp(request: StartRequest): number {
  const files = appFiles(request.runDir, request.name);
  if (!existsSync(request.dir) || !statSync(request.dir).isDirectory()) {
    throw new SwitchyardError(`app folder ${request.dir} does not exist`, { untouched: 'nothing was started', next: 'check APP_DIR' });
  }
  const already = runningPid(files);
  if (already) {
    throw new SwitchyardError(`${request.name} is already running (pid ${already})`, {
      untouched: 'it was left running',
      next: `stop it first with ./deploy.ts stop ${request.name}`,
    });
  }
  ensurePrivateDir(request.runDir);
  rmSync(files.statusFile, { force: true });
  // The supervisor writes and rotates the app's log itself; this fd only catches its own crash, should it have one.
  const logFd = openSync(files.logFile, 'a', 0o600);
  let pid: number;
  try {
    const supervisor = fileURLToPath(new URL('./supervisor.mjs', import.meta.url));
    const settings = { name: request.name, command: request.command, cwd: request.dir, statusFile: files.statusFile, logFile: files.logFile, logMaxBytes: request.logMaxBytes, logKeep: request.logKeep, socket: request.socket };
    pid = spawnDetached([process.execPath, supervisor], {
      cwd: request.dir,
      env: { ...request.env, PORT: String(request.port), HOST: request.host, SWITCHYARD_SUPERVISOR: JSON.stringify(settings) },
      logFd,
    });
  } finally {
    closeSync(logFd);
  }
  try {
    writeFileAtomic(files.pidFile, `${pid}\n`);
  } catch (error) {
    // Untracked, it could never be stopped by name: stop it now rather than leave it behind.
    void stopGroup(pid, 5000);
    throw new SwitchyardError(`could not write ${files.pidFile}: ${(error as Error).message}`, { untouched: `${request.name} was stopped again`, next: 'check the disk and DEPLOY_ROOT permissions' });
  }
  return pid;
}

export async function stopApp(files: AppFiles, timeoutMs: number, onWait?: (elapsedMs: number) => void): Promise<StopOutcome> {
  const pid = runningPid(files);
  if (pid === undefined) {
    rmSync(files.pidFile, { force: true });
    return { result: 'not-running', waitedMs: 0 };
  }
  const outcome = await stopGroup(pid, timeoutMs, onWait);
  rmSync(files.pidFile, { force: true });
  return outcome;
}
