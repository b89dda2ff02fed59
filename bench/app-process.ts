import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { probe } from '../lib/slot/health.ts';

/** An app process the bench started itself (node server.js), stopped only by its own pid. */
export type AppProcess = { pid: number; port: number; version: string; child: ChildProcess; exited: Promise<number> };

const started = new Set<ChildProcess>();

export function spawnApp(options: { dir: string; port: number; version: string; logFile: string }): AppProcess {
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, ['server.js'], {
    cwd: options.dir,
    env: { PATH: process.env.PATH ?? '', PORT: String(options.port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  started.add(child);
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => {
      started.delete(child);
      resolve(code ?? (signal ? 128 : -1));
    }),
  );
  return { pid: child.pid!, port: options.port, version: options.version, child, exited };
}

/** Poll GET /health every 100 ms (as Switchyard's health step does) until 2xx. */
export async function waitHealthy(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await probe(`http://127.0.0.1:${port}/health`, 1000)).ok) return;
    if (Date.now() > deadline) throw new Error(`nothing healthy on port ${port} after ${timeoutMs}ms`);
    await sleep(100);
  }
}

/** SIGTERM, then wait for the exit (SIGKILL after timeoutMs). Returns when each happened. */
export async function stopApp(app: AppProcess, timeoutMs = 35_000): Promise<{ sigtermAt: number; exitAt: number; killed: boolean }> {
  const sigtermAt = Date.now();
  if (app.child.exitCode !== null || app.child.signalCode !== null) return { sigtermAt, exitAt: sigtermAt, killed: false };
  process.kill(app.pid, 'SIGTERM');
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    signal(app.pid, 'SIGKILL');
  }, timeoutMs);
  await app.exited;
  clearTimeout(timer);
  return { sigtermAt, exitAt: Date.now(), killed };
}

/** Last resort on the way out: SIGKILL whatever spawnApp started that is still running. */
export function killLeftovers(): void {
  for (const child of started) if (child.exitCode === null && child.pid) signal(child.pid, 'SIGKILL');
}

/** Signal one of our own children; it may have exited a moment ago. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
