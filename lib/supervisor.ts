/**
 * The detached supervisor behind `start`: runs the app's start command in its own process group,
 * appends everything to the log (its stdout/stderr are the log file), restarts a crashed app with
 * backoff, and on SIGTERM passes the stop on to the app and exits when it has.
 * Run as: node --import tsx lib/supervisor.ts, with SWITCHYARD_SUPERVISOR holding its settings as JSON.
 */
import { writeFileAtomic } from './files.ts';
import { forwardToOwnGroup } from './process.ts';
import { spawnInGroup } from './run.ts';

export type SupervisorSettings = { name: string; command: string; cwd: string; statusFile: string };
export type SupervisorStatus = {
  supervisorPid: number;
  appPid: number | null;
  starts: number;
  exits: { code: number | null; signal: string | null; at: string }[];
  state: 'running' | 'backoff' | 'stopping';
};

const settings: SupervisorSettings = JSON.parse(process.env.SWITCHYARD_SUPERVISOR ?? '{}');
const appEnv = { ...process.env };
delete appEnv.SWITCHYARD_SUPERVISOR;

const status: SupervisorStatus = { supervisorPid: process.pid, appPid: null, starts: 0, exits: [], state: 'running' };
let stopping = false;
let backoffMs = 1000;
let restartTimer: NodeJS.Timeout | undefined;

function say(message: string): void {
  process.stderr.write(`[switchyard ${new Date().toISOString()}] ${settings.name}: ${message}\n`);
}

function saveStatus(): void {
  status.exits = status.exits.slice(-20);
  writeFileAtomic(settings.statusFile, JSON.stringify(status));
}

function startApp(): void {
  const startedAt = Date.now();
  const child = spawnInGroup(['/bin/sh', '-c', settings.command], { cwd: settings.cwd, env: appEnv });
  status.starts += 1;
  status.appPid = child.pid ?? null;
  status.state = 'running';
  saveStatus();
  say(`started \`${settings.command}\` (pid ${child.pid}, start ${status.starts})`);
  child.on('error', (error) => say(`could not start: ${error.message}`));
  child.on('exit', (code, signal) => {
    status.exits.push({ code, signal, at: new Date().toISOString() });
    status.appPid = null;
    if (stopping) {
      say(`stopped (${signal ?? `exit code ${code}`})`);
      saveStatus();
      process.exit(0);
    }
    // A run that lasted a while was healthy: start the backoff again from the bottom.
    if (Date.now() - startedAt > 30_000) backoffMs = 1000;
    status.state = 'backoff';
    saveStatus();
    say(`exited unexpectedly (${signal ?? `exit code ${code}`}); restarting in ${backoffMs / 1000}s`);
    restartTimer = setTimeout(startApp, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 30_000);
  });
}

function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  status.state = 'stopping';
  saveStatus();
  say(`${signal} received: stopping the app`);
  if (restartTimer || status.appPid === null) {
    clearTimeout(restartTimer);
    process.exit(0);
  }
  forwardToOwnGroup('SIGTERM');
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => {}); // survive the end of the SSH session that started us
startApp();
