import { readFileSync } from 'node:fs';
import os from 'node:os';
import { SwitchyardError } from '../errors.ts';
import { isAlive } from '../host/process.ts';
import { describeLease, type FleetLease, type FleetRecord } from '../record/fleet-lease.ts';
import type { LiveGroup } from './group.ts';
import { leaseOrder, type FleetHost } from './hosts.ts';
import type { Remote } from './remote.ts';
import { switchyardVersion } from '../project-dir.ts';
import { SESSION_PROTOCOL } from './session-protocol.ts';

/** Before anything changes: every host reached (bounded), on the controller's version, its config loading, no deploy running, the lease taken. */

export type Probe = {
  version: string;
  /** The fleet session protocol the host speaks (lib/fleet/session-protocol.ts); none before it was numbered. */
  protocol?: number;
  problem?: string;
  app?: string;
  live?: 'a' | 'b' | null;
  commit?: string | null;
  previous?: string | null;
  bake?: { endsAt: string } | null;
  lock?: { pid: number; user: string; command: string; startedAt: string } | null;
  lease?: FleetLease | null;
  taken?: { taken: boolean; holder?: FleetLease } | null;
  group?: LiveGroup | null;
  history?: FleetRecord[];
  /** Asked with --resolve (one host only): the revision as a full SHA, after a fetch of REPO, or why not. */
  resolved?: { commit?: string; problem?: string } | null;
  /** RELEASE_CMD is set there: a fleet deploy runs it on one host only (release-cmd.ts). */
  releaseCmd?: boolean;
};

export type HostCheck = { host: FleetHost; probe?: Probe; problem?: string; heldBy?: FleetLease };

export type Take = { id: string; command: string; holder: string; ttlS: number };

export { LEASE_TTL_S } from '../record/fleet-lease.ts';

/** `revision`: resolve it there too (`--resolve=`, the `=` so a revision is never read as an option; empty: DEPLOY_BRANCH). */
function probeWords(take: Take | undefined, replace?: string, revision?: string): string[] {
  const resolve = revision === undefined ? [] : [`--resolve=${revision}`];
  if (!take) return ['fleet', 'probe', '--json', ...resolve];
  return ['fleet', 'probe', '--json', ...resolve, '--take', take.id, '--command', take.command, '--holder', take.holder, '--ttl', String(take.ttlS),
    '--controller-host', os.hostname(), '--controller-pid', String(process.pid), ...(replace ? ['--replace', replace] : [])];
}

/** The probe: through the host's session (a rollout's, which keeps the lease it takes), or one `fleet probe` command. */
type ProbeAsk = { take?: Take; replace?: string; revision?: string; timeoutMs: number; session: boolean };

async function probeHost(remote: Remote, host: FleetHost, ask: ProbeAsk) {
  const { take, replace, revision, timeoutMs } = ask;
  if (!ask.session) return remote.query(host, probeWords(take, replace, revision), { timeoutMs });
  const lease = take ? { take: { ...take, controllerHost: os.hostname(), controllerPid: process.pid } } : {};
  const request = { op: 'probe' as const, ...lease, ...(replace ? { replace } : {}), ...(revision !== undefined ? { resolve: revision } : {}) };
  const result = await remote.ask(host, request, { timeoutMs });
  if (!result.reached || typeof (result.json as Probe | undefined)?.version === 'string') return result;
  // A host whose Switchyard has no session (another version) answers `fleet probe`: its version line says what to do.
  // Of the controller's version, it stays the session that did not answer (it took no lease).
  const plain = await remote.query(host, probeWords(undefined), { timeoutMs });
  const version = (plain.json as Probe | undefined)?.version;
  return typeof version === 'string' && version !== switchyardVersion() ? plain : result;
}

/**
 * One host: what is wrong there, in one line an operator can act on, or nothing. `revision`: also
 * resolved there, in the same call, so a rollout pays no round trip of its own for it. `session`: asked
 * through the host's session (a rollout), which renews the lease it takes for as long as it lives.
 */
export async function checkHost(
  remote: Remote,
  host: FleetHost,
  take?: Take,
  revision?: string,
  options: { session?: boolean } = {},
): Promise<HostCheck> {
  const ask = { take, revision, timeoutMs: revision === undefined ? 30_000 : 120_000, session: options.session ?? false };
  let result = await probeHost(remote, host, ask);
  let probe = result.json as Probe | undefined;
  // A lease left by a fleet command of this very machine whose process is gone: taken over, after that check.
  const held = probe?.taken && !probe.taken.taken ? probe.taken.holder : undefined;
  if (take && held && controllerGone(held)) {
    result = await probeHost(remote, host, { ...ask, replace: held.id });
    probe = result.json as Probe | undefined;
  }
  if (!result.reached) return { host, problem: `cannot be reached over ssh: ${result.tracker.tail(2).join(' ').trim() || 'no answer'}; check that \`ssh ${host.destination}\` logs in without a prompt (BatchMode)` };
  if (!probe || typeof probe.version !== 'string') {
    return { host, problem: `did not answer as Switchyard does (exit ${result.exitCode}): ${result.tracker.tail(2).join(' ').trim() || 'no output'}; check FLEET_REMOTE (the Switchyard command on the host)` };
  }
  const another = buildProblem(probe, switchyardVersion());
  if (another) return { host, probe, problem: another };
  if (probe.problem) return { host, probe, problem: `its configuration does not load: ${probe.problem}` };
  if (probe.taken && !probe.taken.taken) return { host, probe, heldBy: probe.taken.holder, problem: `is held by a running ${describeLease(probe.taken.holder!)}` };
  if (probe.lock) return { host, probe, problem: `a ${probe.lock.command} is running there (pid ${probe.lock.pid}, user ${probe.lock.user}, started ${probe.lock.startedAt}); wait for it to finish` };
  return { host, probe };
}

/** Why a host's Switchyard cannot take part in this controller's fleet command: another version, or another build of it. Pure. */
export function buildProblem(probe: Pick<Probe, 'version' | 'protocol'>, controllerVersion: string): string | undefined {
  if (probe.version !== controllerVersion) return `runs Switchyard ${probe.version}, the controller ${controllerVersion}; install the same version on every host and the controller`;
  const protocol = probe.protocol ?? 1;
  if (protocol === SESSION_PROTOCOL) return undefined;
  return `runs another build of Switchyard ${probe.version} (fleet session protocol ${protocol}, the controller's ${SESSION_PROTOCOL}); install the same build on every host and the controller`;
}

/** `resolve`: the revision the host first in name order (leaseOrder) resolves ('' for DEPLOY_BRANCH), undefined for none. */
export async function checkHosts(remote: Remote, hosts: FleetHost[], take?: Take, resolve?: string): Promise<HostCheck[]> {
  const [anchor] = leaseOrder(hosts);
  return Promise.all(hosts.map((host) => checkHost(remote, host, take, host === anchor ? resolve : undefined)));
}

/** The full SHA the host's preflight resolved `revision` to (DEPLOY_BRANCH without one), or the one line saying why not. */
export function resolvedCommit(check: HostCheck | undefined, host: FleetHost, revision: string | undefined): string {
  const resolved = check?.probe?.resolved;
  if (typeof resolved?.commit === 'string') return resolved.commit;
  throw new SwitchyardError(`could not resolve ${JSON.stringify(revision ?? 'DEPLOY_BRANCH')} on ${host.name}: ${resolved?.problem ?? check?.problem ?? 'no answer'}`, {
    untouched: 'nothing was changed on any host',
    next: 'check the commit, tag or branch name',
  });
}

/** The lease's controller ran on this machine and its process is gone (or is not a fleet command any more). */
function controllerGone(lease: FleetLease): boolean {
  if (lease.controller.host !== os.hostname() || !lease.controller.pid) return false;
  if (!isAlive(lease.controller.pid)) return true;
  try {
    return !readFileSync(`/proc/${lease.controller.pid}/cmdline`, 'utf8').split('\0').includes('fleet');
  } catch {
    return false;
  }
}
