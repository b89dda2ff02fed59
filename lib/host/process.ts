import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The only module that sends signals. Apps run as a process group led by their supervisor, so one signal reaches them all. */

/** The pid in a pid file (ours or nginx's); undefined when the file is missing, unreadable or not a pid. */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procStat(pid)?.state !== 'Z';
}

/** Whether any process of the group still runs. Zombies do not count: they have exited, only their parent has not reaped them yet. */
export function isGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  return entries.some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    const stat = procStat(Number(entry));
    return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z';
  });
}

/** A process's command line from /proc (arguments joined by spaces); undefined once it is gone or unreadable. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** State, parent and group of a process from /proc/<pid>/stat; undefined without /proc or once it is gone. */
/** Fields of /proc/<pid>/stat; `start` is field 22, the start time in clock ticks since boot (a reused pid has another one). */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number; start: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), start: Number(fields[22 - 3]) };
  } catch {
    return undefined;
  }
}

export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Poll until the whole group is gone or the time is up; true when gone. */
export async function waitForGroupExit(pgid: number, timeoutMs: number, onWait?: (elapsedMs: number) => void): Promise<boolean> {
  const started = Date.now();
  let lastReport = started;
  while (isGroupAlive(pgid) || isAlive(pgid)) {
    const now = Date.now();
    if (now - started >= timeoutMs) return false;
    if (onWait && now - lastReport >= 5000) {
      lastReport = now;
      onWait(now - started);
    }
    await sleep(25);
  }
  return true;
}

export type StopOutcome = { result: 'not-running' | 'exited' | 'killed'; waitedMs: number };

/**
 * Ask the supervisor to stop (it forwards SIGTERM to the app), wait `timeoutMs`, then SIGKILL the whole group.
 */
export async function stopGroup(pgid: number, timeoutMs: number, onWait?: (elapsedMs: number) => void): Promise<StopOutcome> {
  const started = Date.now();
  if (!isGroupAlive(pgid) && !isAlive(pgid)) return { result: 'not-running', waitedMs: 0 };
  signalProcess(pgid, 'SIGTERM');
  if (await waitForGroupExit(pgid, timeoutMs, onWait)) return { result: 'exited', waitedMs: Date.now() - started };
  signalGroup(pgid, 'SIGKILL');
  signalProcess(pgid, 'SIGKILL');
  await waitForGroupExit(pgid, 5000);
  return { result: 'killed', waitedMs: Date.now() - started };
}
