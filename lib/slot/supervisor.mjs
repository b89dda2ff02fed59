/**
 * The detached supervisor behind `start` and the builtin process manager: runs the app's start
 * command in this process group, writes its output (stdout and stderr, whole lines) to the log and
 * rotates the log by size (whole lines only: nothing is lost or split across files), restarts a
 * crashed app with backoff, and on SIGTERM passes the stop to the whole group and exits once the app
 * has. A crash restart uses the environment the slot was started with, never a re-read of APP_ENV_FILE.
 * Plain JavaScript on purpose: it lives as long as the app, so it loads no TypeScript loader (no
 * tsx, no esbuild service) and starts in a few milliseconds; self-contained, so dist/ can copy it.
 *
 * Run as: node lib/slot/supervisor.mjs <name>, with SWITCHYARD_SUPERVISOR =
 * {"name","command","cwd","statusFile","logFile","logMaxBytes","logKeep","socket"}. The name on the
 * command line is for the eye (ps) and for recovery, which checks it before it adopts or stops us.
 * The status file is written first of all, with our pid and start time: a deploy killed before its
 * pid file exists leaves a supervisor that recovery can still prove is ours (lib/slot/app-process.ts).
 * With "socket" (SLOT_LISTEN=socket) the app's files are made with umask 007, so the socket it
 * creates is group-writable (the group of nginx's workers, from the setgid folder), and a socket
 * file its previous run left behind is removed before each start (else listen() fails EADDRINUSE).
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';

const settings = JSON.parse(process.env.SWITCHYARD_SUPERVISOR ?? '{}');
const appEnv = { ...process.env };
delete appEnv.SWITCHYARD_SUPERVISOR;
const logMaxBytes = settings.logMaxBytes > 0 ? settings.logMaxBytes : 10 * 1024 * 1024;
const logKeep = settings.logKeep >= 1 ? Math.floor(settings.logKeep) : 5;
/** A line longer than this is written in pieces rather than held forever. */
const MAX_PENDING = 64 * 1024;

/** Our start in clock ticks after boot (field 22 of /proc/self/stat): with the pid, it names this process and no later one. */
function ownStartTicks() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3]);
  } catch {
    return null;
  }
}

/** @type {import('./app-process.ts').SupervisorStatus} */
const status = { supervisorPid: process.pid, startTicks: ownStartTicks(), appPid: null, starts: 0, exits: [], state: 'running' };
saveStatus();
let stopping = false;
let backoffMs = 1000;
let restartTimer;

if (settings.socket) process.umask(0o007);

/** Only a socket, only ours (this instance's path), only while our app is not running. */
function removeStaleSocket() {
  try {
    if (lstatSync(settings.socket).isSocket()) unlinkSync(settings.socket);
  } catch {
    // Not there.
  }
}

let logFd = settings.logFile ? openSync(settings.logFile, 'a', 0o600) : 2;
let logSize = settings.logFile ? fstatSync(logFd).size : 0;

/** <log> → <log>.1 → ... → <log>.<logKeep> (the oldest falls off), then a fresh <log>. */
function rotate() {
  for (let index = logKeep - 1; index >= 1; index--) {
    try {
      renameSync(`${settings.logFile}.${index}`, `${settings.logFile}.${index + 1}`);
    } catch {
      // Not there yet.
    }
  }
  renameSync(settings.logFile, `${settings.logFile}.1`);
  const fresh = openSync(settings.logFile, 'a', 0o600);
  closeSync(logFd);
  logFd = fresh;
  logSize = 0;
}

/** Whole lines only, so a rotation never splits one; synchronous, so the app's pipe is the only buffer. */
let rotationFailedAt = 0;
function writeLog(buffer) {
  if (settings.logFile && logSize > 0 && logSize + buffer.length > logMaxBytes && Date.now() - rotationFailedAt > 60_000) {
    try {
      rotate();
    } catch (error) {
      // A failed rotation must not lose output: keep appending to the current file, try again in a minute.
      rotationFailedAt = Date.now();
      const line = `[switchyard ${new Date().toISOString()}] ${settings.name}: could not rotate ${settings.logFile}: ${error.message}\n`;
      writeSync(logFd, line);
      logSize += Buffer.byteLength(line);
    }
  }
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(logFd, buffer, offset, buffer.length - offset);
  logSize += buffer.length;
}

function say(message) {
  writeLog(Buffer.from(`[switchyard ${new Date().toISOString()}] ${settings.name}: ${message}\n`));
}

/** Read a child's output pipe; write complete lines as they come, the rest once it ends. Resolves at its end. */
function pumpOutput(stream) {
  let pending = Buffer.alloc(0);
  return new Promise((resolve) => {
    stream.on('data', (chunk) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const end = pending.lastIndexOf(10);
      if (end >= 0) {
        writeLog(pending.subarray(0, end + 1));
        pending = pending.subarray(end + 1);
      }
      if (pending.length > MAX_PENDING) {
        writeLog(pending);
        pending = Buffer.alloc(0);
      }
    });
    const finish = () => {
      if (pending.length) writeLog(pending);
      pending = Buffer.alloc(0);
      resolve();
    };
    stream.on('end', finish);
    stream.on('error', finish);
  });
}

/** The output the app wrote before it exited; a grandchild that keeps the pipe open must not hold us up for more than a second. */
function outputDone(pumped) {
  return Promise.race([pumped, new Promise((resolve) => setTimeout(resolve, 1000))]);
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
  if (settings.socket) removeStaleSocket();
  // One pipe each, read line by line: a shared pipe would let a partial write on one interleave the other mid-line.
  const child = spawn('/bin/sh', ['-c', settings.command], { cwd: settings.cwd, env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const pumped = Promise.all([pumpOutput(child.stdout), pumpOutput(child.stderr)]);
  status.starts += 1;
  status.appPid = child.pid ?? null;
  status.state = 'running';
  saveStatus();
  say(`started \`${settings.command}\` (pid ${child.pid}, start ${status.starts})`);
  child.on('error', (error) => say(`could not start: ${error.message}`));
  child.on('exit', async (code, signal) => {
    await outputDone(pumped);
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
