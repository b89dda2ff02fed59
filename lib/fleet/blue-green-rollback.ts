import os from 'node:os';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { writeControllerRecord, forgetControllerRecord, groupNames, type ControllerRecord } from './fleet-record.ts';
import type { FleetHost } from './hosts.ts';
import { LEASE_TTL_S } from './preflight.ts';
import { newFleetId, releaseLeases } from './rolling.ts';
import type { FleetContext } from './context.ts';
import { otherGroup, runSwitchCommand, switchTo, type Group } from './switch.ts';

/**
 * Blue-green `fleet rollback` from the controller's record: the front moves first (FLEET_SWITCH_CMD, one
 * FLEET_SWITCH_CHECK_CMD pass, during which the hosts' sessions start), then one request per host (`turn`)
 * takes the lease, checks what the record promised (the group and fleet command the host recorded last,
 * no deploy running, the warm group on the kept commit), records the new live group and gives the lease
 * back. A host that disagrees, or a lease held by another fleet command, runs the switch back at once:
 * traffic spends one host round trip on a group the hosts had not confirmed, a group that was warm and
 * serving.
 */

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : 'nothing');

type Answer = { host: FleetHost; taken?: boolean; heldBy?: string; problem?: string; recorded?: { group?: string } | null };

export async function rollbackFromRecord(ctx: FleetContext, record: ControllerRecord): Promise<number> {
  const { config, out } = ctx;
  const groups = { A: config.groups.A, B: config.groups.B };
  const hosts = [...groups.A, ...groups.B];
  const from = record.group;
  const to = otherGroup(from);
  const id = newFleetId();
  const holder = `${ctx.user}@${os.hostname()}`;
  out.info(`fleet rollback ${id}: switch from group ${from} to group ${to} (${short(record.idleCommit)}), as this controller's record of fleet ${record.fleetId} says; then the hosts confirm it`);
  // The hosts' sessions start (handshake, Node start) while the switch is checked, not before: traffic moves
  // first. Their confirmations then cost one round trip each.
  await switchTo(ctx, to, from, groups, record.idleCommit, 1, () => {
    for (const host of hosts) void ctx.remote.ask(host, { op: 'probe' }, { timeoutMs: 30_000 }).catch(() => undefined);
  });
  const turn = { id, holder, to, record };
  const answers = await Promise.all(hosts.map((host) => confirm(ctx, host, groups[to].includes(host) ? record.idleCommit : null, turn)));
  const refused = answers.filter((answer) => answer.problem || answer.heldBy);
  if (refused.length === 0) {
    saveRecord(ctx, { group: to, fleetId: id, commit: record.idleCommit, idleCommit: record.commit });
    out.success(`group ${to} (${groups[to].map((host) => host.name).join(', ')}) is live again, serving ${short(record.idleCommit)}`);
    return 0;
  }
  // The hosts do not confirm the record, which is dropped. The front goes back to the group it left, unless a
  // host says the group switched to was live already (another controller rolled back): then it stays there.
  forgetControllerRecord(config.recordFile);
  const why = refused.map((answer) => `${answer.host.name} ${answer.heldBy ? `is held by ${answer.heldBy}` : answer.problem}`).join('; ');
  const alreadyLive = refused.some((answer) => answer.recorded?.group === to);
  const back = alreadyLive ? to : from;
  let untouched = alreadyLive ? `group ${to} was live already, as the hosts record: the front stays on it` : `switched back: group ${from} serves as before`;
  try {
    if (!alreadyLive) await runSwitchCommand(ctx, config.switchCmd, from, groups, record.commit);
  } catch (error) {
    untouched = `the switch back to group ${from} failed too (${isSwitchyardError(error) ? error.message : String(error)}): check the balancer by hand now`;
  }
  const confirmed = answers.filter((answer) => answer.taken && !answer.problem && !answer.heldBy).map((answer) => answer.host);
  // Hosts that recorded the new group take back the record they had (the fleet command that made `from` live).
  if (back === from) {
    const group = { op: 'group' as const, group: from, id: record.fleetId, commit: record.commit };
    await Promise.all(confirmed.map((host) => ctx.remote.ask(host, group, { timeoutMs: 20_000 })));
  }
  const held = refused.some((answer) => answer.heldBy);
  const reason = `fleet rollback: the hosts did not confirm this controller's record, so ${alreadyLive ? `nothing moved` : `the switch to group ${to} was undone`}: ${why}`;
  const kept = answers.filter((answer) => answer.taken).map((answer) => answer.host);
  await releaseLeases(ctx, kept, id, { command: 'rollback', holder, commit: record.idleCommit, outcome: 'failed', reason });
  throw new SwitchyardError(reason, {
    untouched,
    next: held ? 'wait for the other fleet command to finish, then run this again' : 'run `./deploy.ts fleet rollback` again: it now reads the hosts (`fleet status` shows each)',
    exitCode: held ? 75 : 1,
  });
}

async function confirm(
  ctx: FleetContext,
  host: FleetHost,
  warmCommit: string | null,
  turn: { id: string; holder: string; to: Group; record: ControllerRecord },
): Promise<Answer> {
  const { id, holder, to, record } = turn;
  const take = { id, command: 'rollback', holder, ttlS: LEASE_TTL_S, controllerHost: os.hostname(), controllerPid: process.pid };
  const expect = { group: record.group, fleetId: record.fleetId, ...(warmCommit ? { commit: warmCommit } : {}) };
  const result = await ctx.remote.ask(host, { op: 'turn', take, group: to, commit: record.idleCommit, expect }, { timeoutMs: 20_000 });
  type TurnAnswer = {
    taken?: { taken?: boolean; holder?: { id?: string; holder?: string } };
    problem?: string;
    recorded?: { group?: string } | null;
  };
  const json = result.json as TurnAnswer | undefined;
  if (!result.reached || result.exitCode !== 0 || !json) {
    return { host, problem: `did not answer (exit ${result.exitCode}): ${result.tracker.tail(2).join(' ') || 'no output'}` };
  }
  if (json.taken && json.taken.taken === false) return { host, heldBy: `fleet ${json.taken.holder?.id ?? '?'} of ${json.taken.holder?.holder ?? '?'}` };
  return { host, taken: true, ...(json.problem ? { problem: json.problem, recorded: json.recorded } : {}) };
}

/** After a switch the hosts recorded: the groups as configured now, and the time, added. */
function saveRecord(ctx: FleetContext, record: Omit<ControllerRecord, 'groups' | 'at'>): void {
  try {
    const { A, B } = ctx.config.groups;
    writeControllerRecord(ctx.config.recordFile, { ...record, groups: groupNames({ A, B }), at: new Date().toISOString() });
  } catch (error) {
    ctx.out.warn(`could not write ${ctx.config.recordFile} (${String(error)}): the next fleet rollback reads every host first`);
  }
}

export { saveRecord as saveControllerRecord };
