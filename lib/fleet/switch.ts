import { setTimeout as sleep } from 'node:timers/promises';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { runShell } from '../host/run.ts';
import type { FleetHost } from './hosts.ts';
import type { FleetContext } from './context.ts';

/** Blue-green's switch: FLEET_SWITCH_CMD to a group, FLEET_SWITCH_CHECK_CMD to confirm it, the switch back when it does not hold. */

export type Group = 'A' | 'B';
export const otherGroup = (group: Group): Group => (group === 'A' ? 'B' : 'A');

/** The facts FLEET_SWITCH_CMD and FLEET_SWITCH_CHECK_CMD get. Pure. */
export function switchEnv(to: Group, hosts: Record<Group, FleetHost[]>, commit: string | null): Record<string, string> {
  const names = (group: Group) => hosts[group].map((host) => host.name).join(' ');
  return { SWITCHYARD_GROUP: to, SWITCHYARD_HOSTS: names(to), SWITCHYARD_PREVIOUS_GROUP: otherGroup(to), SWITCHYARD_PREVIOUS_HOSTS: names(otherGroup(to)), SWITCHYARD_COMMIT: commit ?? '' };
}

const times = (count: number) => (count === 1 ? 'once' : `${count} times in a row`);

/** FLEET_SWITCH_CHECK_CMD's exit code for "this group cannot serve" (a refused connection, a 5xx), as opposed to "not yet". */
export const CHECK_CANNOT_SERVE = 3;

/**
 * FLEET_SWITCH_CMD to `to`, then FLEET_SWITCH_CHECK_CMD `passes` times in a row (bounded); on failure the switch
 * back to `from`. A deploy asks 3 (a group that just took its first traffic); a rollback 1 (the group served
 * this traffic before and stayed warm). `onSwitched`: called once FLEET_SWITCH_CMD has moved traffic, before the check.
 */
export async function switchTo(
  ctx: FleetContext,
  to: Group,
  from: Group | undefined,
  groups: Record<Group, FleetHost[]>,
  commit: string | null,
  needed = 3,
  onSwitched?: () => void,
): Promise<void> {
  const { config } = ctx;
  const run = (command: string, group: Group) => runSwitchCommand(ctx, command, group, groups, commit);
  try {
    await run(config.switchCmd, to);
    onSwitched?.();
    if (config.switchCheckCmd) {
      let passes = 0;
      const deadline = Date.now() + 30_000;
      let last = '';
      while (passes < needed) {
        try {
          await run(config.switchCheckCmd, to);
          passes++;
        } catch (error) {
          passes = 0;
          last = isSwitchyardError(error) ? [error.message, ...error.details.slice(-2)].join(' ') : String(error);
          // Exit 3 is the check's verdict that the group cannot serve (refused, 5xx): no wait can mend that.
          if (isSwitchyardError(error) && error.command?.exitCode === CHECK_CANNOT_SERVE) {
            throw new SwitchyardError(`FLEET_SWITCH_CHECK_CMD says group ${to} cannot serve (exit ${CHECK_CANNOT_SERVE}), so the switch is undone at once: ${last}`);
          }
          if (Date.now() > deadline) throw new SwitchyardError(`FLEET_SWITCH_CHECK_CMD did not pass ${times(needed)} within 30s: ${last}`);
        }
        if (passes < needed) await sleep(300);
      }
    }
    ctx.out.info(`switched to group ${to}${config.switchCheckCmd ? ` (FLEET_SWITCH_CHECK_CMD passed ${times(needed)})` : ''}`);
  } catch (error) {
    const why = isSwitchyardError(error) ? error.message : String(error);
    if (from) {
      try {
        await run(config.switchCmd, from);
      } catch (back) {
        throw new SwitchyardError(`the switch to group ${to} failed (${why}) and the switch back to group ${from} failed too: ${isSwitchyardError(back) ? back.message : String(back)}`, { next: 'check the balancer by hand now; `./deploy.ts fleet status` shows each host' });
      }
    }
    throw new SwitchyardError(`the switch to group ${to} failed: ${why}`, { untouched: from ? `switched back: group ${from} serves as before` : 'no group was live before', next: 'fix FLEET_SWITCH_CMD / FLEET_SWITCH_CHECK_CMD or the balancer, then run this again' });
  }
}


/** FLEET_SWITCH_CMD or FLEET_SWITCH_CHECK_CMD for `group`, its lines shown as the switch's. */
export function runSwitchCommand(
  ctx: FleetContext,
  command: string,
  group: Group,
  groups: Record<Group, FleetHost[]>,
  commit: string | null,
) {
  return runShell(command, { env: { ...ctx.env, ...switchEnv(group, groups, commit) }, timeoutMs: 60_000, onLine: (line) => ctx.out.output('switch', line) });
}
