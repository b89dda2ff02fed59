import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { SwitchyardError } from '../errors.ts';
import { commandLine, isAlive } from '../host/process.ts';
import { openCappedLog } from './capped-log.ts';

/**
 * Every deploy's and rollback's full output, kept on the host: DEPLOY_ROOT/deploys/<id>.log (0600),
 * the id in its history entry. A dropped SSH connection loses the terminal, never the record:
 * `history --show <id|last>` prints it and `logs --deploy -f` follows the one running now to its end.
 */

export const DEPLOY_LOGS_KEPT = 50;
const ID_PATTERN = /^(\d{8}-\d{6})-(\d+)$/;

export function deployLogDir(deployRoot: string): string {
  return path.join(deployRoot, 'deploys');
}

/** `20261201-063612-4242`: sorts by time, names the process that writes it. Pure. */
export function deployLogId(startedAt: Date, pid: number): string {
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${pid}`;
}

export function deployLogPath(deployRoot: string, id: string): string {
  if (!ID_PATTERN.test(id)) throw new SwitchyardError(`${JSON.stringify(id)} is not a deploy id (like 20261201-063612-4242)`, { untouched: 'nothing was changed', next: 'see the ids with ./deploy.ts history', exitCode: 2 });
  return path.join(deployLogDir(deployRoot), `${id}.log`);
}

/** The pid that writes (or wrote) a log. Pure. */
export function deployLogPid(id: string): number {
  return Number(ID_PATTERN.exec(id)?.[2] ?? 0);
}

export type DeployLog = { id: string; file: string; write(line: string): void };

/** Open a new log for this process (synchronous appends: nothing is lost when the process is killed), and drop the oldest beyond `keep`. */
export function openDeployLog(deployRoot: string, startedAt = new Date(), keep = DEPLOY_LOGS_KEPT): DeployLog {
  const dir = deployLogDir(deployRoot);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = deployLogId(startedAt, process.pid);
  const file = path.join(dir, `${id}.log`);
  // Bounded: a build printing 60 MB keeps its first and last MB, and the deploy's own lines at the end.
  const capped = openCappedLog(file);
  rotateDeployLogs(deployRoot, keep, id);
  return {
    id,
    file,
    write(line) {
      capped.write(line);
    },
  };
}

/**
 * Remove the oldest logs (by name: by start time) so that at most `keep` remain; never `own` (the log
 * just opened) nor the log of a command still running: with the clock set back, the newest log's
 * name sorts first, and pruning by name alone removed the running deploy's own log as it was opened.
 */
export function rotateDeployLogs(deployRoot: string, keep = DEPLOY_LOGS_KEPT, own?: string): void {
  const ids = listDeployLogs(deployRoot);
  const spared = new Set(ids.filter((id) => id === own || deployLogRunning(id)));
  const prunable = ids.filter((id) => !spared.has(id));
  for (const id of prunable.slice(0, Math.max(0, ids.length - Math.max(keep, spared.size)))) rmSync(path.join(deployLogDir(deployRoot), `${id}.log`), { force: true });
}

/** Ids of the kept logs, oldest first. */
export function listDeployLogs(deployRoot: string): string[] {
  try {
    return readdirSync(deployLogDir(deployRoot)).filter((name) => name.endsWith('.log') && ID_PATTERN.test(name.slice(0, -4))).map((name) => name.slice(0, -4)).sort();
  } catch {
    return [];
  }
}

/** The log an operator asked for: an id, or `last` (the newest one, running or finished). */
export function resolveDeployLog(deployRoot: string, which: string): { id: string; file: string } {
  if (which === 'last') {
    const id = listDeployLogs(deployRoot).at(-1);
    if (!id) throw new SwitchyardError(`no deploy log in ${deployLogDir(deployRoot)} yet`, { untouched: 'nothing was changed', next: 'each deploy and rollback writes one there' });
    return { id, file: deployLogPath(deployRoot, id) };
  }
  const file = deployLogPath(deployRoot, which);
  if (!existsSync(file)) {
    throw new SwitchyardError(`no deploy log ${which} in ${deployLogDir(deployRoot)}`, { untouched: 'nothing was changed', next: `the newest ${DEPLOY_LOGS_KEPT} are kept; see the ids with ./deploy.ts history` });
  }
  return { id: which, file };
}

/** Whether the process that writes a log still runs (then the log is still growing). */
export function deployLogRunning(id: string): boolean {
  const pid = deployLogPid(id);
  return pid > 0 && isAlive(pid) && (commandLine(pid) ?? '').includes('deploy');
}

/**
 * Print a log's whole lines (redacted by `print`'s caller), then, while its writer runs and `follow`
 * is set, the new ones as they come; ends once the writer has exited and the last line is out.
 */
export async function printDeployLog(
  file: string,
  id: string,
  print: (line: string) => void,
  options: { follow: boolean; pollMs?: number },
): Promise<void> {
  let offset = 0;
  let partial = '';
  const decoder = new StringDecoder('utf8');
  const drain = () => {
    const size = statSync(file).size;
    // A capped log that dropped part of its tail (capped-log.ts) keeps only lines already printed: go on from its new end.
    if (size < offset) {
      offset = size;
      partial = '';
    }
    if (size <= offset) return;
    const fd = openSync(file, 'r');
    try {
      while (offset < size) {
      const buffer = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024));
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      offset += read;
      const lines = (partial + decoder.write(buffer.subarray(0, read))).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) print(line);
      if (read === 0) break;
      }
    } finally {
      closeSync(fd);
    }
  };
  drain();
  while (options.follow && deployLogRunning(id)) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
    drain();
  }
  drain();
  if (partial) print(partial);
}


/** The log of the deploy or rollback holding the lock now (`pid`), else the newest. */
export function currentDeployLog(deployRoot: string, runningPid: number | undefined): { id: string; file: string } {
  if (runningPid !== undefined) {
    const id = listDeployLogs(deployRoot).filter((each) => deployLogPid(each) === runningPid).at(-1);
    if (id) return { id, file: deployLogPath(deployRoot, id) };
  }
  return resolveDeployLog(deployRoot, 'last');
}
