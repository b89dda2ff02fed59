import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The one place that reads /proc (the supervisor, a standalone script, reads its own): processes,
 * their state, command line and identity, the kernel's socket tables. Each read is undefined when
 * the entry is gone or unreadable (a process that just exited, a host without /proc).
 */

export function readProc(relative: string): string | undefined {
  try {
    return readFileSync(`/proc/${relative}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether the process has no /proc entry at all (gone), as opposed to one we may not read. */
export function procGone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

/** Every pid on the host; undefined without /proc. */
export function listPids(): number[] | undefined {
  try {
    return readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(Number);
  } catch {
    return undefined;
  }
}

export type ProcStat = { state: string; ppid: number; pgrp: number; /** Clock ticks after boot (field 22). */ startTicks: number };

/** State, parent, group and start of a process from /proc/<pid>/stat. */
export function procStat(pid: number): ProcStat | undefined {
  const stat = readProc(`${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name is in parentheses and may hold spaces: the fields start after the last ')', at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]), startTicks: Number(fields[22 - 3]) };
}

/** Field 22 of /proc/<pid>/stat: the start time in clock ticks after boot, which tells a process from a later one with its pid; undefined without /proc. */
export function startTicks(pid: number): number | undefined {
  const ticks = procStat(pid)?.startTicks;
  return ticks !== undefined && Number.isFinite(ticks) ? ticks : undefined;
}

/** A process's command line (arguments joined by spaces), for matching a title or a word. */
export function commandLine(pid: number): string | undefined {
  return commandArgs(pid)?.join(' ');
}

/** A process's arguments, one string each (a path with spaces stays whole). */
export function commandArgs(pid: number): string[] | undefined {
  return readProc(`${pid}/cmdline`)?.split('\0').slice(0, -1);
}

/** A process's working folder; undefined when gone or not ours to read. */
export function processCwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/** The effective uid and every gid of a process, from /proc/<pid>/status. */
export function procIdentity(pid: number): { uid: number; gids: number[] } | undefined {
  const status = readProc(`${pid}/status`);
  if (status === undefined) return undefined;
  const field = (name: string) => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const uid = field('Uid')[1];
  if (uid === undefined || Number.isNaN(uid)) return undefined;
  return { uid, gids: [field('Gid')[1], ...field('Groups')] };
}

/** Wall-clock ms of a start time in ticks (USER_HZ is 100 on every Linux Switchyard runs on). */
export function startedAtMs(ticks: number): number | undefined {
  const bootSeconds = Number(/^btime (\d+)$/m.exec(readProc('stat') ?? '')?.[1]);
  return Number.isFinite(bootSeconds) && Number.isFinite(ticks) ? bootSeconds * 1000 + ticks * 10 : undefined;
}

/** A kernel socket table: tcp, tcp6, unix. */
export function socketTable(name: 'tcp' | 'tcp6' | 'unix'): string | undefined {
  return readProc(`net/${name}`);
}

/** Pids of the master's child processes (its workers, including ones shutting down), read from /proc. */
export function childPids(parentPid: number): number[] {
  const children: number[] = [];
  for (const pid of listPids() ?? []) {
    const stat = procStat(pid);
    if (stat && stat.ppid === parentPid && stat.state !== 'Z') children.push(pid);
  }
  return children;
}
