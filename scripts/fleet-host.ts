import os from 'node:os';
import { defineCommand, type Command, type Flags } from '../lib/cli/define-command.ts';
import type { Config } from '../lib/config/config.ts';
import type { CommandSpec, OptionSpec } from '../lib/cli/options.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { groupTurnProblem, readLiveGroup, writeLiveGroup } from '../lib/fleet/group.ts';
import { switchyardVersion } from '../lib/project-dir.ts';
import { LEASE_ID, LEASE_TTL_S, readFleetHistory, readLease, releaseLease, renewLease, takeLease, type FleetLease } from '../lib/record/fleet-lease.ts';
import { runningHolder } from '../lib/record/lock.ts';
import { SESSION_PROTOCOL, type SessionRequest, type TakeRequest } from '../lib/fleet/session-protocol.ts';
import { loadState } from '../lib/record/state.ts';
import { cacheDir, fetchRepo, knownCommit, resolveCommit } from '../lib/release/git.ts';

/**
 * The host's side of a fleet command, run by the controller over ssh (`fleet probe`, `fleet lease`; a
 * rollout's `fleet session` answers the same questions, and resolves, records the live group and confirms
 * a blue-green turn itself): one JSON document on stdout each, nothing an operator needs to type.
 */

const HOST_SIDE_VALUES = ['take', 'holder', 'command', 'ttl', 'replace', 'controller-pid', 'controller-host', 'outcome', 'commit', 'reason', 'history', 'resolve'] as const;

/** The host side's own option table: words the controller passes, never typed by an operator. */
const HOST_SIDE_OPTIONS = {
  ...(Object.fromEntries(HOST_SIDE_VALUES.map((name) => [name, { value: 'VALUE', help: name }])) as Record<(typeof HOST_SIDE_VALUES)[number], OptionSpec & { value: string }>),
  json: { help: 'the controller asks for JSON; every answer is one JSON document' },
};

export function hostSideSpec<P extends CommandSpec['positionals']>(sub: string, positionals?: P) {
  return { name: `fleet ${sub}`, summary: "internal: a fleet command's work on one host", internal: true, options: HOST_SIDE_OPTIONS, ...(positionals ? { positionals } : {}) } as const;
}

type HostFlags = Flags<ReturnType<typeof hostSideSpec>>;
const valueOf = (flags: HostFlags, name: (typeof HOST_SIDE_VALUES)[number]) => flags[name];

function idFlag(flags: HostFlags, name: '--take' | '--replace'): string | undefined {
  const value = valueOf(flags, name.slice(2) as 'take' | 'replace');
  if (value !== undefined && !LEASE_ID.test(value)) throw new SwitchyardError(`${name} must be a fleet id; got ${JSON.stringify(value)}`, { exitCode: 2 });
  return value;
}

function ttlS(flags: HostFlags): number {
  const text = valueOf(flags, 'ttl') ?? String(LEASE_TTL_S);
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1) throw new SwitchyardError(`--ttl must be seconds; got ${JSON.stringify(text)}`, { exitCode: 2 });
  return Number(text);
}

function leaseOf(flags: HostFlags, id: string): FleetLease {
  return newLease({
    id,
    command: valueOf(flags, 'command') ?? 'deploy',
    holder: valueOf(flags, 'holder') ?? 'unknown',
    controllerHost: valueOf(flags, 'controller-host') ?? '?',
    controllerPid: Number(valueOf(flags, 'controller-pid') ?? 0),
    ttlS: ttlS(flags),
  });
}

/** The lease a controller asks for, from now for its ttl. */
export function newLease(take: TakeRequest): FleetLease {
  const now = Date.now();
  return {
    id: take.id,
    command: take.command,
    holder: take.holder,
    controller: { host: take.controllerHost, pid: take.controllerPid },
    takenAt: new Date(now).toISOString(),
    expiresAt: new Date(now + take.ttlS * 1000).toISOString(),
    ttlS: take.ttlS,
  };
}

/**
 * Blue-green rollback's confirmation on this host, after the front moved (a session's `turn`): the lease
 * taken, then, if the host shows what the controller's record expects, the live group written and the lease
 * given back with a success in fleet history. Otherwise nothing written, the lease kept: the controller
 * switches back and gives it back.
 */
export function turnGroup(config: Config, request: Extract<SessionRequest, { op: 'turn' }>) {
  const { take, group, commit, expect } = request;
  const taken = takeLease(config.deployRoot, newLease(take));
  if (!taken.taken) return { taken };
  const state = loadState(config.deployRoot, config.appName, config.ports);
  const live = state.live ? state.slots[state.live].commit : null;
  const recorded = readLiveGroup(config.deployRoot);
  const problem = groupTurnProblem(expect, { recorded, live, deploying: runningHolder(config.deployRoot)?.command });
  if (problem) return { taken, problem, recorded: recorded ?? null };
  const at = new Date().toISOString();
  writeLiveGroup(config.deployRoot, { group, commit, fleetId: take.id, at });
  releaseLease(config.deployRoot, take.id, { id: take.id, command: take.command, holder: take.holder, commit, outcome: 'success', at });
  return { taken, group, live };
}

/**
 * A fetch of REPO, then the revision (DEPLOY_BRANCH's head without one) as a full SHA, or the line saying
 * why not. A full SHA the mirror already has needs no fetch (a redeploy, a rollback to a release).
 */
export async function resolveRevision(config: Config, revision: string | undefined): Promise<{ commit?: string; problem?: string }> {
  try {
    const cache = cacheDir(config.deployRoot);
    const known = revision === undefined ? undefined : await knownCommit(cache, revision, config.commandEnv);
    if (known) return { commit: known };
    await fetchRepo(config.repo, cache, { env: config.commandEnv });
    return { commit: await resolveCommit(cache, revision ?? `refs/heads/${config.branch}`, config.commandEnv) };
  } catch (error) {
    return { problem: error instanceof SwitchyardError ? error.message : String(error) };
  }
}

/** What `fleet probe` prints, the lease taken first (`replace`: over that one) and `resolve` resolved when given (and the lease, if asked for, taken). */
export async function probeAnswer(config: Config, ask: { lease?: FleetLease; replace?: string; resolve?: string; history?: number }) {
  const taken = ask.lease ? takeLease(config.deployRoot, ask.lease, { replace: ask.replace }) : null;
  // Asked with a lease, the fetch runs only under it: a controller refused here must not fetch into the
  // mirror beside the one that holds the host (two fetches into one mirror fail each other's ref locks).
  const resolved = ask.resolve === undefined || (taken && !taken.taken) ? null : await resolveRevision(config, ask.resolve || undefined);
  const state = loadState(config.deployRoot, config.appName, config.ports);
  const holder = runningHolder(config.deployRoot);
  return {
    version: switchyardVersion(),
    protocol: SESSION_PROTOCOL,
    host: os.hostname(),
    app: config.appName,
    live: state.live,
    commit: state.live ? state.slots[state.live].commit : null,
    previous: state.live ? state.slots[state.live === 'a' ? 'b' : 'a'].commit : null,
    bake: state.bake ? { endsAt: state.bake.endsAt, previous: state.bake.previous } : null,
    lock: holder ?? null,
    lease: readLease(config.deployRoot) ?? null,
    taken,
    group: readLiveGroup(config.deployRoot) ?? null,
    history: readFleetHistory(config.deployRoot, ask.history ?? 20),
    resolved,
    releaseCmd: config.releaseCmd.trim() !== '',
  };
}

const out = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** The host side's commands, by the word after `fleet`; each prints one JSON document (its warnings and errors stay text). */
export const HOST_SIDE: Record<string, Command> = {
  probe: defineCommand({
    spec: hostSideSpec('probe'),
    // A host whose config does not load still answers: the controller prints what is wrong there.
    config: 'lazy',
    json: 'document',
    help: "The controller's preflight and status read of this host: version, state, lock, lease, history.",
    async run({ flags, loadConfig }) {
      let config;
      try {
        config = loadConfig().config;
      } catch (error) {
        out({ version: switchyardVersion(), problem: error instanceof SwitchyardError ? error.line : String(error) });
        return 0;
      }
      const take = idFlag(flags, '--take');
      const resolve = valueOf(flags, 'resolve');
      out(await probeAnswer(config, { lease: take ? leaseOf(flags, take) : undefined, replace: idFlag(flags, '--replace'), resolve, history: Number(valueOf(flags, 'history') ?? '20') }));
      return 0;
    },
  }),
  lease: defineCommand({
    spec: hostSideSpec('lease', [{ name: 'ACTION' }, { name: 'ID' }] as const),
    config: true,
    json: 'document',
    help: 'Renews or gives back the fleet lease on this host.',
    async run({ flags, args, config }) {
      const { ACTION: action, ID: id } = args;
      if (!id || !LEASE_ID.test(id)) throw new SwitchyardError('fleet lease renew|release needs the fleet id', { exitCode: 2 });
      if (action === 'renew') out({ renewed: renewLease(config.deployRoot, id, ttlS(flags)) });
      else if (action === 'release') {
        const outcome = valueOf(flags, 'outcome');
        const record = outcome
          ? { id, command: valueOf(flags, 'command') ?? '?', holder: valueOf(flags, 'holder') ?? '?', commit: valueOf(flags, 'commit') ?? null, outcome, at: new Date().toISOString(), ...(valueOf(flags, 'reason') ? { reason: valueOf(flags, 'reason') } : {}) }
          : undefined;
        out({ released: releaseLease(config.deployRoot, id, record) });
      } else throw new SwitchyardError(`fleet lease: unknown action ${JSON.stringify(action)} (renew or release)`, { exitCode: 2 });
      return 0;
    },
  }),
};
