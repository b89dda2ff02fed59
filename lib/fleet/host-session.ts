import { startPiped, type PipedCommand } from '../host/run-piped.ts';
import { trackEvents, type EventTracker, type HostEvent } from './events.ts';
import { parseEnd, type SessionRequest } from './session-protocol.ts';

/**
 * The controller's end of one host's `fleet session` (scripts/fleet-session.ts): one ssh command for
 * the rollout's whole life, requests written one at a time, each answer read up to its end line.
 * A session that dies answers the request in flight, and every later one, as ssh would have: its exit
 * code (255: the connection) and its last lines.
 */

export type SessionAnswer = { exitCode: number; tracker: EventTracker; json?: unknown; ended: boolean };

export type HostSession = {
  ask(request: SessionRequest, options?: { timeoutMs?: number; onEvent?: (event: HostEvent) => void }): Promise<SessionAnswer>;
  /** Its stdin closed: the host's session ends once its command running (if any) has finished. */
  end(): void;
  /** The session is gone (exited, or killed at a bound): a new one must be opened for the next request. */
  dead(): boolean;
  exited: Promise<{ exitCode: number }>;
  kill(): void;
};

type Pending = { tracker: EventTracker; onEvent?: (event: HostEvent) => void; settle: (answer: SessionAnswer) => void };

export async function openHostSession(argv: readonly string[], env: Record<string, string | undefined>): Promise<HostSession> {
  let pending: Pending | undefined;
  // Lines that came before the first request (a warning at start-up) go with its answer; later ones with none
  // waiting are the text copies (stderr) of --json events already read, arriving after their answer's end line.
  let early: string[] = [];
  let answeredOnce = false;
  let gone: { exitCode: number; why?: string } | undefined;
  const onLine = (line: string, from: 'stdout' | 'stderr') => {
    const end = from === 'stdout' ? parseEnd(line) : undefined;
    if (!pending) {
      if (!end && !answeredOnce) early.push(line);
      return;
    }
    if (!end) {
      const event = pending.tracker.take(line);
      if (event) pending.onEvent?.(event);
      return;
    }
    const answered = pending;
    pending = undefined;
    answeredOnce = true;
    if (end.session === 'error') {
      answered.tracker.take(end.error);
      answered.settle({ exitCode: 2, tracker: answered.tracker, ended: true });
    } else answered.settle({ exitCode: end.exitCode, tracker: answered.tracker, json: end.answer, ended: true });
  };
  let piped: PipedCommand;
  try {
    piped = await startPiped(argv, { env, onLine });
  } catch (error) {
    gone = { exitCode: 255, why: `ssh could not start: ${(error as Error).message}` };
    return deadSession(gone);
  }
  const exited = piped.exited.then((result) => {
    gone = result;
    if (pending) {
      const failed = pending;
      pending = undefined;
      if (result.why) failed.tracker.take(result.why);
      // An exit 0 with no end line is a session cut short all the same.
      failed.settle({ exitCode: result.exitCode === 0 ? 1 : result.exitCode, tracker: failed.tracker, ended: false });
    }
    return result;
  });
  return {
    ask(request, options = {}) {
      return new Promise<SessionAnswer>((resolve) => {
        const tracker = trackEvents();
        for (const line of early) tracker.take(line);
        early = [];
        if (gone || pending) {
          tracker.take(gone?.why ?? (gone ? `the session had ended (exit code ${gone.exitCode})` : 'a request was already in flight'));
          resolve({ exitCode: gone?.exitCode ?? 1, tracker, ended: false });
          return;
        }
        let timer: NodeJS.Timeout | undefined;
        pending = {
          tracker,
          onEvent: options.onEvent,
          settle: (answer) => {
            clearTimeout(timer);
            resolve(answer);
          },
        };
        if (options.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            tracker.take(`no answer within ${options.timeoutMs} ms: the session was closed`);
            piped.kill();
          }, options.timeoutMs);
        }
        if (!piped.send(JSON.stringify(request))) piped.kill();
      });
    },
    end: () => piped.end(),
    dead: () => gone !== undefined,
    exited,
    kill: () => piped.kill(),
  };
}

function deadSession(gone: { exitCode: number; why?: string }): HostSession {
  return {
    async ask() {
      const tracker = trackEvents();
      if (gone.why) tracker.take(gone.why);
      return { exitCode: gone.exitCode, tracker, ended: false };
    },
    end: () => undefined,
    dead: () => true,
    exited: Promise.resolve(gone),
    kill: () => undefined,
  };
}
