import { readFileSync } from 'node:fs';
import { commandLine, listPids, procStat } from './proc.ts';

export { commandLine, procStat };
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
  const pids = listPids();
  if (pids === undefined) return true;
  return pids.some((pid) => {
    const stat = procStat(pid);
    return stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z';
  });
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
