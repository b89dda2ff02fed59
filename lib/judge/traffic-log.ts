import dgram from 'node:dgram';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SLOTS, type Config, type SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { writeFileAtomic } from '../host/files.ts';
import { isAlive } from '../host/process.ts';
import { slotOfAddress } from '../slot/endpoints.ts';
import { emptyTally, figuresOf, tallied, type SlotFigures, type Tally } from './figures.ts';
import { parseLogLine } from './log-line.ts';

/**
 * nginx's own view of the traffic, per slot: the site's access_log sends one syslog datagram per
 * proxied request (health path and long-lived requests left out) to 127.0.0.1:TRAFFIC_LOG_PORT, but
 * only while the `judging` file exists in NGINX_LIVE_DIR (nobody listening would cost two error-log
 * lines a request). Opening binds the port, then creates the file; closing removes it, then unbinds.
 * No disk growth, no rotation, nothing buffered by nginx (docs/canary.md).
 */

export type TrafficLog = {
  /** The figures of each slot since the last take (or the opening). */
  take(): Record<SlotName, SlotFigures>;
  /** Datagrams since the opening that were not a line of ours, or named neither slot. */
  ignored(): number;
  close(): Promise<void>;
};

export function judgingFile(config: Pick<Config, 'nginx'>): string {
  return path.join(config.nginx.liveDir, 'judging');
}

export async function openTrafficLog(config: Config): Promise<TrafficLog> {
  const socket = dgram.createSocket('udp4');
  await bind(socket, config.judge.logPort);
  const fresh = () => ({ a: emptyTally(), b: emptyTally() }) as Record<SlotName, Tally>;
  let tallies = fresh();
  let ignored = 0;
  socket.on('message', (message) => {
    const line = parseLogLine(message.toString('utf8'));
    const slot = line && slotOfAddress(config, line.address);
    if (!line || !slot) ignored++;
    else tallied(tallies[slot], line.status, line.upstreamMs);
  });
  try {
    // Readable by nginx's workers, which stat it per request (as they do live-a).
    writeFileAtomic(judgingFile(config), `${process.pid}\n`, 0o644);
  } catch (error) {
    socket.close();
    throw new SwitchyardError(`cannot create ${judgingFile(config)}, which turns nginx's request log on: ${(error as Error).message}`, {
      untouched: 'traffic was not touched',
      next: 'let the deploy user write NGINX_LIVE_DIR',
      cause: error,
    });
  }
  let closed = false;
  return {
    take() {
      const taken = tallies;
      tallies = fresh();
      return Object.fromEntries(SLOTS.map((slot) => [slot, figuresOf(taken[slot])])) as Record<SlotName, SlotFigures>;
    },
    ignored: () => ignored,
    async close() {
      if (closed) return;
      closed = true;
      removeJudgingFile(config);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

/** Removes the judging file if this process wrote it, or its writer is gone (a watcher killed mid-window). */
export function removeJudgingFile(config: Config): void {
  let owner: number;
  try {
    owner = Number(readFileSync(judgingFile(config), 'utf8').trim());
  } catch {
    return;
  }
  if (owner === process.pid || !isAlive(owner)) rmSync(judgingFile(config), { force: true });
}

function bind(socket: dgram.Socket, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      reject(
        new SwitchyardError(`cannot listen for nginx's request log on UDP 127.0.0.1:${port}: ${error.code === 'EADDRINUSE' ? 'another process holds that port' : error.message}`, {
          untouched: 'traffic was not touched; the window is not judged',
          next: error.code === 'EADDRINUSE' ? 'set TRAFFIC_LOG_PORT to a free UDP port and print and install the site again (./deploy.ts nginx-site)' : 'see docs/canary.md',
          cause: error,
        }),
      );
    });
    socket.bind(port, '127.0.0.1', () => {
      socket.removeAllListeners('error');
      resolve();
    });
  });
}
