/**
 * The detached supervisor behind `start` and the builtin process manager: runs the app's start
 * command in this process group, appends everything to the log (stdout/stderr are the log file),
 * restarts a crashed app with backoff, and on SIGTERM passes the stop to the whole group and exits
 * once the app has. Plain JavaScript on purpose: it lives as long as the app, so it loads no
 * TypeScript loader (no tsx, no esbuild service) and starts in a few milliseconds.
 *
 * Run as: node lib/supervisor.mjs, with SWITCHYARD_SUPERVISOR = {"name","command","cwd","statusFile"}.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const settings = JSON.parse(process.env.SWITCHYARD_SUPERVISOR ?? '{}');
const appEnv = { ...process.env };
delete appEnv.SWITCHYARD_SUPERVISOR;

/** @type {import('./app-process.ts').SupervisorStatus} */
const status = { supervisorPid: process.pid, appPid: null, starts: 0, exits: [], state: 'running' };
let stopping = false;
let backoffMs = 1000;
let restartTimer;

function say(message) {
  process.stderr.write(`[switchyard ${new Date().toISOString()}] ${settings.name}: ${message}\n`);
}

/** Readers (the deploy's health wait, status) must never see half a file: temp file, then rename. */
function saveStatus() {
  status.exits = status.exits.slice(-20);
  const temp = `${settings.statusFile}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(status), { mode: 0o600 });
  renameSync(temp, settings.statusFile);
}

/**
 * When the start command's own process dies (sh, npm) its children can live on, holding the port, so
 * a restart would fail with EADDRINUSE forever: kill every other process of our group first.
 */
function killLeftovers() {
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === process.pid && fields[0] !== 'Z') {
        process.kill(Number(entry), 'SIGKILL');
        killed++;
      }
    } catch {
      // Gone while we looked.
    }
  }
  if (killed > 0) say(`killed ${killed} leftover process(es) of the previous run`);
}

function startApp() {
  restartTimer = undefined;
  const startedAt = Date.now();
  const child = spawn('/bin/sh', ['-c', settings.command], { cwd: settings.cwd, env: appEnv, stdio: ['ignore', 'inherit', 'inherit'] });
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
    killLeftovers();
    restartTimer = setTimeout(startApp, backoffMs);
    backoffMs = Math.min(backoffMs * 2, 30_000);
  });
}

function stop(signal) {
  if (stopping) return;
  stopping = true;
  status.state = 'stopping';
  saveStatus();
  say(`${signal} received: stopping the app`);
  if (restartTimer || status.appPid === null) {
    clearTimeout(restartTimer);
    killLeftovers();
    process.exit(0);
  }
  // The whole group, so `sh -c`, `npm start` and the app itself all hear it at once.
  try {
    process.kill(-process.pid, 'SIGTERM');
  } catch (error) {
    say(`could not signal the app: ${error.message}`);
  }
}

process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => {}); // survive the end of the SSH session that started us
startApp();
