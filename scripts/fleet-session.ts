import { createInterface } from 'node:readline';
import { defineCommand } from '../lib/cli/define-command.ts';
import type { CommandIo } from '../lib/cli/command.ts';
import type { Config } from '../lib/config/config.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { writeLiveGroup } from '../lib/fleet/group.ts';
import { endLine, parseRequest, type SessionEnd, type SessionRequest } from '../lib/fleet/session-protocol.ts';
import { switchyardVersion } from '../lib/project-dir.ts';
import { releaseLease, renewLease } from '../lib/record/fleet-lease.ts';
import { COMMANDS } from './commands.ts';
import { hostSideSpec, newLease, probeAnswer, resolveRevision, turnGroup } from './fleet-host.ts';

/**
 * A rollout's one conversation with this host (`fleet session`, started once per host over one ssh
 * command): probe and lease, the deploy or rollback run in this very process, blue-green's resolve, live
 * group and turn, the release. Requests and answers: lib/fleet/session-protocol.ts. The lease is renewed
 * here while stdin stays open; when it closes (the controller or its connection gone) renewing stops,
 * and the session ends once the command running has finished: a host's cycle is never cut halfway, and
 * the lease expires by itself.
 */

/** The signals and process events a command's frame may listen to: what it added is taken away after it. */
const PROCESS_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'exit', 'beforeExit'] as const;

const write = (line: string) => {
  process.stdout.write(`${line}\n`);
};

/** A deploy or rollback as `deploy.ts` runs it, in this process: what its frame leaves (signal handlers, the exit code) is undone. */
async function runHostCommand(io: CommandIo, request: Extract<SessionRequest, { op: 'run' }>): Promise<SessionEnd> {
  const [name, ...argv] = request.argv;
  const command = await COMMANDS[name as 'deploy' | 'rollback']();
  const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  try {
    return { session: 'done', exitCode: await command.run({ argv, env: { ...io.env, ...request.env }, program: io.program }) };
  } finally {
    for (const event of PROCESS_EVENTS) {
      const added = process.listeners(event as NodeJS.Signals).filter((listener) => !before.get(event)!.has(listener));
      for (const listener of added) process.off(event, listener);
    }
    process.exitCode = undefined;
  }
}

export const sessionCommand = defineCommand({
  spec: hostSideSpec('session'),
  // A host whose config does not load still answers a probe: the controller prints what is wrong there.
  config: 'lazy',
  json: 'document',
  help: "internal: a rollout's one session with this host: JSON requests on stdin, one at a time, answers on stdout.",
  async run({ io, loadConfig }) {
    let config: Config | undefined;
    let configProblem: string | undefined;
    try {
      config = loadConfig().config;
    } catch (error) {
      configProblem = error instanceof SwitchyardError ? error.line : String(error);
    }
    // The controller gone mid-command: its lines have nowhere to go, and that must not end the command.
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    let renewing: NodeJS.Timeout | undefined;
    const keep = (id: string, ttlS: number) => {
      clearInterval(renewing);
      renewing = setInterval(() => {
        if (!renewLease(config!.deployRoot, id, ttlS)) clearInterval(renewing);
      }, (ttlS * 1000) / 4);
    };
    process.stdin.once('end', () => clearInterval(renewing));
    const needConfig = (): Config => {
      if (!config) throw new SwitchyardError(`its configuration does not load: ${configProblem}`);
      return config;
    };
    const answer = async (request: SessionRequest): Promise<SessionEnd> => {
      switch (request.op) {
        case 'probe': {
          if (!config) return { session: 'done', exitCode: 0, answer: { version: switchyardVersion(), problem: configProblem } };
          const lease = request.take ? newLease(request.take) : undefined;
          const probe = await probeAnswer(config, { lease, replace: request.replace, resolve: request.resolve });
          if (lease && probe.taken?.taken) keep(lease.id, request.take!.ttlS);
          return { session: 'done', exitCode: 0, answer: probe };
        }
        case 'run':
          return runHostCommand(io, request);
        case 'resolve': {
          const resolved = await resolveRevision(needConfig(), request.revision || undefined);
          return { session: 'done', exitCode: resolved.problem ? 1 : 0, answer: resolved };
        }
        case 'group': {
          const { group, id: fleetId, commit } = request;
          writeLiveGroup(needConfig().deployRoot, { group, commit, fleetId, at: new Date().toISOString() });
          return { session: 'done', exitCode: 0, answer: { group } };
        }
        case 'turn': {
          const turned = turnGroup(needConfig(), request);
          if (turned.taken.taken && turned.problem) keep(request.take.id, request.take.ttlS);
          return { session: 'done', exitCode: 0, answer: turned };
        }
        case 'keep': {
          const renewed = renewLease(needConfig().deployRoot, request.id, request.ttlS);
          if (renewed) keep(request.id, request.ttlS);
          return { session: 'done', exitCode: 0, answer: { renewed } };
        }
        case 'release': {
          clearInterval(renewing);
          const record = request.record ? { id: request.id, ...request.record, at: new Date().toISOString() } : undefined;
          return { session: 'done', exitCode: 0, answer: { released: releaseLease(needConfig().deployRoot, request.id, record) } };
        }
      }
    };
    // One request at a time: the next line is read once the answer to this one is written.
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      const request = parseRequest(line);
      if ('error' in request) {
        write(endLine({ session: 'error', error: request.error }));
        continue;
      }
      try {
        write(endLine(await answer(request)));
      } catch (error) {
        write(endLine({ session: 'error', error: error instanceof SwitchyardError ? error.line : `unexpected failure: ${String(error)}` }));
      }
      if (request.op === 'release') break;
    }
    clearInterval(renewing);
    return 0;
  },
});
