import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll } from 'vitest';
import { commandArgs, listPids, procStat, processCwd, readProc } from '../../lib/host/proc.ts';
import { signalGroup, signalProcess } from '../../lib/host/process.ts';

/**
 * Every test file (vitest setupFiles) gets a temp folder of its own as TMPDIR, so all it makes with
 * os.tmpdir() (hosts, repos, deploy roots) lies inside it, and everything it starts carries it: in
 * its environment (inherited TMPDIR), its command line or its working folder. After the file's own
 * clean-up, a process still pointing there outlived its test: it is killed, by pid, and the file
 * fails naming it. Files running side by side have other folders, so they never see each other's.
 */

/** The machine's temp folder, kept across files should a worker run several. */
const base = (process.env.SWITCHYARD_TEST_TMP_BASE ??= os.tmpdir());
// A short name: ssh's control sockets (lib/fleet/remote.ts) lie a few folders below, within a socket path's 107 characters.
const folder = mkdtempSync(path.join(base, 't'));
// Like /tmp: nginx's workers and the test users pass through, sticky so none replaces another's entry.
chmodSync(folder, 0o1777);
process.env.TMPDIR = folder;

/** How long a process that is already on its way out (nginx's old workers, a watcher whose state is gone) may take. */
const GRACE_MS = 5000;

export type Leftover = { pid: number; pgrp: number; command: string; cwd: string };

/** Processes (not zombies, not this one) whose environment, command line or working folder lies in `dir`. */
export function processesIn(dir: string, self = process.pid): Leftover[] {
  const inside = (text: string | undefined) => text !== undefined && (text === dir || text.includes(`${dir}/`) || text.includes(`=${dir}\0`) || text.endsWith(`=${dir}`));
  const found: Leftover[] = [];
  for (const pid of listPids() ?? []) {
    if (pid === self) continue;
    const stat = procStat(pid);
    if (!stat || stat.state === 'Z') continue;
    const args = commandArgs(pid) ?? [];
    const cwd = processCwd(pid) ?? '';
    if (inside(cwd) || args.some(inside) || inside(readProc(`${pid}/environ`))) found.push({ pid, pgrp: stat.pgrp, command: args.join(' ').slice(0, 200), cwd });
  }
  return found;
}

/** Wait out the grace, then kill what is left (its group too when it leads one) and name it. */
export async function endLeftovers(dir: string): Promise<Leftover[]> {
  const deadline = Date.now() + GRACE_MS;
  let left = processesIn(dir);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = processesIn(dir);
  }
  for (const leftover of left) {
    if (leftover.pgrp === leftover.pid) signalGroup(leftover.pid, 'SIGKILL');
    signalProcess(leftover.pid, 'SIGKILL');
  }
  return left;
}

afterAll(async ({}, suite) => {
  const file = 'filepath' in suite ? suite.filepath : suite.file.filepath;
  const left = await endLeftovers(folder);
  rmSync(folder, { recursive: true, force: true });
  if (left.length > 0) {
    throw new Error(`${left.length} process(es) outlived ${path.basename(file)} (killed now): ${left.map((each) => `pid ${each.pid} \`${each.command}\` in ${each.cwd}`).join('; ')}`);
  }
}, GRACE_MS + 10_000);
