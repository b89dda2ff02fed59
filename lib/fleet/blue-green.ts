import os from 'node:os';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import type { FleetHost } from './hosts.ts';
import { LEASE_TTL_S, type HostCheck, type Take } from './preflight.ts';
import { interruptedBy, newFleetId, preflightAndLease, releaseLeases, runOnHost } from './rolling.ts';
import type { FleetContext } from './context.ts';
import { releaseCmdOrder } from './release-cmd.ts';
import { rollout } from './rollout.ts';
import { otherGroup, switchTo, type Group } from './switch.ts';
import { rollbackFromRecord, saveControllerRecord } from './blue-green-rollback.ts';
import { forgetControllerRecord, readControllerRecord, usableRecord } from './fleet-record.ts';


/**
 * Blue-green: two groups of hosts. `fleet deploy` deploys the idle group (each host its own cycle),
 * then FLEET_SWITCH_CMD sends traffic to it, confirmed by FLEET_SWITCH_CHECK_CMD; the previous group
 * stays warm, serving its version out of rotation. `fleet rollback` is the switch only (switch first, from the
 * controller's record, when it has one: blue-green-rollback.ts). A failed
 * switch or check runs the switch back. The live group is recorded on every host.
 */

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : 'nothing');

/** The live group every host recorded; none yet is fine (the first deploy goes to A), a disagreement is not. Pure. */
export function recordedGroup(checks: HostCheck[]): { group: Group | undefined; commit: string | null; problem?: string } {
  const groups = checks.map((check) => check.probe?.group ?? null).filter((group) => group !== null);
  const names = [...new Set(groups.map((group) => group!.group))];
  if (names.length > 1) return { group: undefined, commit: null, problem: `the hosts disagree on the live group (${checks.map((check) => `${check.host.name}: ${check.probe?.group?.group ?? 'none'}`).join(', ')})` };
  const newest = groups.sort((a, b) => a!.at.localeCompare(b!.at)).at(-1);
  return { group: newest?.group, commit: newest?.commit ?? null };
}

export async function blueGreenChange(ctx: FleetContext, options: { command: 'deploy' | 'rollback'; revision?: string }): Promise<number> {
  const { config, out } = ctx;
  const groups = { A: config.groups.A, B: config.groups.B };
  const hosts = [...groups.A, ...groups.B];
  const id = newFleetId();
  const holder = `${ctx.user}@${os.hostname()}`;
  const take: Take = { id, command: options.command, holder, ttlS: LEASE_TTL_S };
  if (options.command === 'rollback' && options.revision !== undefined) {
    throw new SwitchyardError(`blue-green fleet rollback takes no commit (got ${JSON.stringify(options.revision)}): it switches back to the other group, warm on its release`, {
      untouched: 'nothing was changed', next: 'run `./deploy.ts fleet rollback` without one, or `fleet deploy COMMIT` for another release', exitCode: 2,
    });
  }
  const record = options.command === 'rollback' ? usableRecord(readControllerRecord(config.recordFile), groups) : undefined;
  if (record) return rollbackFromRecord(ctx, record);
  const checks = [...(await preflightAndLease(ctx, hosts, take)).values()];
  let outcome = 'failed';
  let reason: string | undefined;
  let commit: string | null = null;
  try {
    const recorded = recordedGroup(checks);
    if (recorded.problem) throw new SwitchyardError(recorded.problem, { untouched: 'nothing was changed on any host', next: 'run `./deploy.ts fleet rollback` or `fleet deploy` again once the hosts agree; `fleet status` shows each' });
    const live = recorded.group;
    if (options.command === 'rollback') {
      if (!live) throw new SwitchyardError('no live group is recorded on the hosts yet: nothing to roll back to', { untouched: 'nothing was changed on any host' });
      const to = otherGroup(live);
      commit = checks.find((check) => check.host === groups[to][0])?.probe?.commit ?? null;
      out.info(`fleet rollback ${id}: switch from group ${live} to group ${to} (${short(commit)}); no host deploys`);
      await switchTo(ctx, to, live, groups, commit, 1);
      await recordGroup(ctx, hosts, to, commit, id);
      saveControllerRecord(ctx, { group: to, fleetId: id, commit, idleCommit: recorded.commit });
      outcome = 'success';
      out.success(`group ${to} (${groups[to].map((host) => host.name).join(', ')}) is live again, serving ${short(commit)}`);
      return 0;
    }
    const to: Group = live ? otherGroup(live) : 'A';
    // In the session the probe opened: no ssh command or Node start of its own.
    const resolved = await ctx.remote.ask(groups[to][0], { op: 'resolve', ...(options.revision ? { revision: options.revision } : {}) }, { timeoutMs: 120_000 });
    const answer = resolved.json as { commit?: unknown; problem?: unknown } | undefined;
    commit = resolved.exitCode === 0 && typeof answer?.commit === 'string' ? answer.commit : null;
    if (!commit) {
      const why = typeof answer?.problem === 'string' ? answer.problem : resolved.tracker.tail(3).join(' ');
      throw new SwitchyardError(`could not resolve ${JSON.stringify(options.revision ?? 'DEPLOY_BRANCH')} on ${groups[to][0].name}: ${why}`, { untouched: 'nothing was changed on any host' });
    }
    out.info(`fleet deploy ${id}: ${short(commit)} to the idle group ${to} (${groups[to].map((host) => host.name).join(', ')}), ${live ? `then the switch from group ${live}` : 'then the first switch'}`);
    // The idle group changes now: this controller's record no longer knows it warm on the previous release.
    forgetControllerRecord(config.recordFile);
    const env = { SWITCHYARD_FLEET_ID: id };
    const ordered = releaseCmdOrder([groups[to]], new Map(checks.map((check) => [check.host, check])), commit);
    if (ordered.runsOn) out.info(`RELEASE_CMD runs once, in ${ordered.runsOn.name}'s deploy, which goes first; the others deploy with --no-release-cmd`);
    const deployed = await rollout(ordered.batches, {
      change: async (host) => {
        const result = await runOnHost(ctx, host, ['deploy', ...ordered.flags(host), '--', commit!], env);
        return result.exitCode === 0 ? { ok: true, switched: true } : { ok: false, switched: false, step: result.reached ? (result.tracker.failedStep() ?? 'deploy') : 'ssh', message: result.tracker.errorMessage(), tail: result.tracker.tail(5) };
      },
      revert: async () => ({ ok: true, switched: false }),
      interrupted: () => interruptedBy(ctx),
    }, 'halt');
    if (deployed.failure?.step === 'interrupted') {
      throw new SwitchyardError(`fleet deploy ${short(commit)} stopped, ${deployed.failure.message}, before the switch: group ${live ?? 'none'} still serves`, {
        untouched: `the idle group ${to} finished its own deploys and takes no traffic`,
        next: "run the same fleet deploy again: the idle group's hosts start their kept release, then the switch runs",
        exitCode: 130,
      });
    }
    if (!deployed.ok) {
      const failure = deployed.failure!;
      throw new SwitchyardError(`fleet deploy ${short(commit)} failed on ${failure.host?.name} at its ${failure.step} step: ${failure.message ?? 'failed'}; no switch was made: group ${live ?? 'none'} still serves`, { details: failure.tail, next: 'fix the cause on that host, then run this again' });
    }
    await switchTo(ctx, to, live, groups, commit);
    await recordGroup(ctx, hosts, to, commit, id);
    saveControllerRecord(ctx, { group: to, fleetId: id, commit, idleCommit: live ? recorded.commit : null });
    outcome = 'success';
    out.success(`group ${to} is live with ${short(commit)}; ${live ? `group ${live} stays warm for \`fleet rollback\`` : `no group served before, so \`fleet rollback\` has nothing to go back to until the next deploy`}`);
    return 0;
  } catch (error) {
    reason = isSwitchyardError(error) ? error.message : String(error);
    throw error;
  } finally {
    await releaseLeases(ctx, hosts, id, { command: options.command, holder, commit, outcome, reason });
  }
}

/** Each host records the live group in the session its probe opened, before the lease goes back. */
async function recordGroup(ctx: FleetContext, hosts: FleetHost[], group: Group, commit: string | null, id: string): Promise<void> {
  const results = await Promise.all(hosts.map((host) => ctx.remote.ask(host, { op: 'group', group, id, commit }, { timeoutMs: 20_000 })));
  results.forEach((result, index) => result.exitCode !== 0 && ctx.out.warn(`could not record the live group ${group} there: ${result.tracker.tail(2).join(' ')}`, hosts[index].name));
}
