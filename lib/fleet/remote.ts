import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeCommand } from '../host/run.ts';
import type { FleetConfig } from './config.ts';
import { trackEvents, type EventTracker, type HostEvent } from './events.ts';
import type { FleetHost } from './hosts.ts';
import { createLimit } from './limit.ts';
import { sshArgv, type SshOptions } from '../host/commands/ssh.ts';
import { openHostSession, type HostSession } from './host-session.ts';
import type { SessionRequest } from './session-protocol.ts';

/**
 * The controller's ssh: one private control folder per command, one shared connection per host. A host's
 * session (host-session.ts: a rollout's, a blue-green rollback's) is that connection's master itself, so
 * the connection lasts exactly as long as the session; other commands (status, a dry run) share a
 * connection kept in the background, closed at the end.
 */

export type RemoteResult = { exitCode: number; stdout: string; tracker: EventTracker; reached: boolean };

export type Remote = {
  /** A short command whose stdout is one JSON document (probe, lease, resolve): bounded by `timeoutMs`. */
  query(
    host: FleetHost,
    words: string[],
    options?: { timeoutMs?: number; env?: Record<string, string> },
  ): Promise<RemoteResult & { json?: unknown }>;
  /**
   * A request to the host's `fleet session` (lib/fleet/session-protocol.ts), opened at the first one: a
   * rollout's probe, lease, deploys and release over one ssh command and one Node start per host.
   */
  ask(
    host: FleetHost,
    request: SessionRequest,
    options?: { timeoutMs?: number; onEvent?: (event: HostEvent) => void },
  ): Promise<RemoteResult & { json?: unknown }>;
  close(hosts: FleetHost[]): Promise<void>;
};

/** The longest folder the control sockets' private folder may be made in (see createRemote). */
const MAX_CONTROL_PARENT = 107 - '/swy-ssh-XXXXXX/'.length - 40 - '.0123456789abcdef'.length;

/** ssh's own exit code when it could not reach the host or authenticate (the remote command's codes are below it). */
export const SSH_FAILED = 255;

export function createRemote(config: FleetConfig, env: Record<string, string | undefined>): Remote {
  // A private folder (mkdtemp is 0700): nobody else can reach the shared connections. A socket's path has at
  // most 107 bytes, and ssh binds `<folder>/swy-ssh-XXXXXX/<40 hex of %C>.<16 random>` first: 73 of them are ours.
  const runtimeDir = env.XDG_RUNTIME_DIR && env.XDG_RUNTIME_DIR.length <= MAX_CONTROL_PARENT ? env.XDG_RUNTIME_DIR : os.tmpdir();
  const controlDir = mkdtempSync(path.join(runtimeDir, 'swy-ssh-'));
  // A query's connection lasts the whole command (close() ends it), so a host's next query pays no second
  // handshake; the bound ends a connection a killed controller left. A session is its connection's master
  // (ControlPersist=no): a host waiting minutes for its batch keeps it open, and its end closes it, with no
  // `ssh -O exit` to run (and pay a process start for) at the end.
  const options: SshOptions = { configFile: config.sshConfig, controlDir, connectTimeoutS: 10, persistS: 600 };
  const sessionOptions: SshOptions = { ...options, persistS: 'no' };
  // FLEET_PARALLEL: a host's first command opens its connection; at most that many open at once (a bastion's MaxStartups).
  const connected = new Set<string>();
  const opening = createLimit(config.parallel);
  const throughConnection = <T extends { reached: boolean }>(host: FleetHost, work: () => Promise<T>): Promise<T> =>
    connected.has(host.name)
      ? work()
      : opening(async () => {
          const result = await work();
          if (result.reached) connected.add(host.name);
          return result;
        });
  const sshEnv = { ...env };
  const argv = (host: FleetHost, words: string[], extra: Record<string, string> = {}, through = options) =>
    sshArgv.run(host, config.remote, words, through, extra);
  const sessions = new Map<string, HostSession>();
  // The lease each host's session keeps: a session opened again after one died is told to keep it too.
  const leases = new Map<string, { id: string; ttlS: number }>();
  const sessionOf = async (host: FleetHost): Promise<HostSession> => {
    const open = sessions.get(host.name);
    if (open && !open.dead()) return open;
    const session = await openHostSession(argv(host, ['fleet', 'session', '--json'], {}, sessionOptions), sshEnv);
    sessions.set(host.name, session);
    const lease = leases.get(host.name);
    if (lease) await session.ask({ op: 'keep', ...lease }, { timeoutMs: 30_000 });
    return session;
  };
  // A session answers one request at a time: a host's requests wait for the one before.
  const turns = new Map<string, Promise<unknown>>();
  const inTurn = <T>(host: FleetHost, work: () => Promise<T>): Promise<T> => {
    const result = (turns.get(host.name) ?? Promise.resolve()).then(work, work);
    turns.set(host.name, result.catch(() => undefined));
    return result;
  };
  return {
    query: (host, words, queryOptions = {}) => throughConnection(host, async () => {
      const result = await probeCommand(argv(host, words, queryOptions.env), { env: sshEnv, timeoutMs: queryOptions.timeoutMs ?? 30_000 });
      const tracker = trackEvents();
      for (const line of `${result.stderr}\n${result.error ?? ''}`.split('\n')) if (line.trim()) tracker.take(line);
      const json = parseDocument(result.stdout);
      const exitCode = result.timedOut ? SSH_FAILED : result.exitCode;
      return { exitCode, stdout: result.stdout, tracker, json, reached: exitCode !== SSH_FAILED };
    }),
    ask: (host, request, askOptions = {}) => inTurn(host, () => throughConnection(host, async () => {
      const session = await sessionOf(host);
      const answer = await session.ask(request, askOptions);
      if (request.op === 'probe' && request.take && (answer.json as { taken?: { taken?: boolean } } | undefined)?.taken?.taken) {
        leases.set(host.name, { id: request.take.id, ttlS: request.take.ttlS });
      }
      if (request.op === 'release') leases.delete(host.name);
      return { exitCode: answer.exitCode, stdout: '', tracker: answer.tracker, json: answer.json, reached: answer.exitCode !== SSH_FAILED };
    })),
    async close(hosts) {
      // A session asked for nothing more ends by itself (after a release it already has); one that does not is ended.
      await Promise.all([...sessions.values()].map(async (session) => {
        session.end();
        const bound = setTimeout(() => session.kill(), 10_000);
        await session.exited;
        clearTimeout(bound);
      }));
      sessions.clear();
      // A master removes its socket when it ends: none left, none to close (a rollout's sessions were all masters).
      if (readdirSync(controlDir).length > 0) {
        await Promise.all(hosts.map((host) => probeCommand(sshArgv.exit(host, options), { env: sshEnv, timeoutMs: 5000 })));
      }
      rmSync(controlDir, { recursive: true, force: true });
    },
  };
}

/** A whole JSON document (status --json prints one over many lines), or the last line that is one. */
function parseDocument(stdout: string): unknown {
  for (const text of [stdout.trim(), stdout.trim().split('\n').at(-1) ?? '']) {
    try {
      return JSON.parse(text);
    } catch {
      // Next candidate.
    }
  }
  return undefined;
}
