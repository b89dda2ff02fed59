import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SwitchyardError } from '../errors.ts';
import { ensurePrivateDir, writeFileAtomic } from '../host/files.ts';
import { readLogTail } from './log-files.ts';
import { isAlive, isGroupAlive, readPidFile, stopGroup, type StopOutcome } from '../host/process.ts';
import { spawnDetached } from '../host/run.ts';
import { commandArgs, commandLine, procGone, procStat } from '../host/proc.ts';

/** What the supervisor (supervisor.mjs) writes to its status file. */
export type SupervisorStatus = {
  supervisorPid: number;
  /** The supervisor's start in clock ticks after boot (/proc/<pid>/stat); null where it could not read it. Missing in files of older versions. */
  startTicks?: number | null;
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

/** The running supervisor of `files`: the one its pid file names, else the one its status file proves ours (see unownedSupervisor). */
export function runningPid(files: AppFiles): number | undefined {
  const pid = readPid(files);
  if (pid !== undefined && (isAlive(pid) || isGroupAlive(pid)) && isOurSupervisor(pid)) return pid;
  return unownedSupervisor(files);
}

/**
 * A supervisor started by a command killed before it wrote the pid file: it runs, owned by nobody,
 * and holds the slot's port. Ours only by proof, never by a port: its status file (which it writes
 * first of all) gives its pid and start time, and that pid still runs, started at that very tick,
 * as our supervisor for this instance. A reused pid starts at another tick.
 */
export function unownedSupervisor(files: AppFiles): number | undefined {
  const status = readStatus(files);
  const pid = status?.supervisorPid;
  if (!Number.isInteger(pid) || pid! <= 1 || typeof status?.startTicks !== 'number' || !isAlive(pid!)) return undefined;
  if (procStat(pid!)?.startTicks !== status.startTicks) return undefined;
  const args = commandArgs(pid!) ?? [];
  return args[1]?.endsWith('/supervisor.mjs') && args[2] === path.basename(files.pidFile, '.pid') ? pid : undefined;
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
  const { pid, files } = spawnSupervisor(request);
  recordSupervisor(request.name, files, pid);
  return pid;
}

/**
 * The first half of startApp: the supervisor runs, its pid file is not written yet. A command killed
 * here leaves it unowned; its status file still names it (unownedSupervisor), so recovery finds it.
 */
export function spawnSupervisor(request: StartRequest): { pid: number; files: AppFiles } {
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
  try {
    const supervisor = fileURLToPath(new URL('./supervisor.mjs', import.meta.url));
    const settings = {
      name: request.name,
      command: request.command,
      cwd: request.dir,
      statusFile: files.statusFile,
      logFile: files.logFile,
      logMaxBytes: request.logMaxBytes,
      logKeep: request.logKeep,
      socket: request.socket,
    };
    const pid = spawnDetached([process.execPath, supervisor, request.name], {
      cwd: request.dir,
      env: { ...request.env, PORT: String(request.port), HOST: request.host, SWITCHYARD_SUPERVISOR: JSON.stringify(settings) },
      logFd,
    });
    return { pid, files };
  } finally {
    closeSync(logFd);
  }
}

/** The second half: the pid file, so the supervisor can be stopped by name. */
export function recordSupervisor(name: string, files: AppFiles, pid: number): void {
  try {
    writeFileAtomic(files.pidFile, `${pid}\n`);
  } catch (error) {
    // Untracked, it could never be stopped by name: stop it now rather than leave it behind.
    void stopGroup(pid, 5000);
    throw new SwitchyardError(`could not write ${files.pidFile}: ${(error as Error).message}`, { untouched: `${name} was stopped again`, next: 'check the disk and DEPLOY_ROOT permissions' });
  }
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
