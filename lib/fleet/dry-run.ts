import { parseEvents } from '../cli/events.ts';
import { planBatches } from './batches.ts';
import { recordedGroup } from './blue-green.ts';
import type { FleetContext } from './context.ts';
import { leaseOrder, type FleetHost } from './hosts.ts';
import { checkHosts, resolvedCommit } from './preflight.ts';
import { releaseCmdOrder } from './release-cmd.ts';
import { shapeLine } from './rolling.ts';
import { otherGroup } from './switch.ts';

/**
 * `fleet deploy --dry-run`: the preflight's read of every host (the first in name order resolves the
 * revision, as a real deploy does), then each host's own `deploy --dry-run` in the order a real rollout
 * would take them. Nothing changes anywhere; exit 1 when a real deploy would stop.
 */
export async function fleetDryRun(ctx: FleetContext, revision: string | undefined): Promise<number> {
  const { config, out } = ctx;
  // As the real preflight: the host first in name order fetches REPO and resolves the revision once, so a name
  // that does not exist fails here.
  const checks = await checkHosts(ctx.remote, config.hosts, undefined, revision ?? '');
  const [anchor] = leaseOrder(config.hosts);
  const resolver = checks.find((check) => check.host === anchor)!;
  const commit = resolver.problem ? undefined : resolvedCommit(resolver, anchor, revision);
  let failedPlans = 0;
  const order = (batches: FleetHost[][]) => {
    const ordered = releaseCmdOrder(batches, new Map(checks.map((check) => [check.host, check])), commit ?? null);
    if (ordered.runsOn) out.info(`RELEASE_CMD runs once, in ${ordered.runsOn.name}'s deploy, which goes first and alone; the others deploy with --no-release-cmd`);
    return ordered;
  };
  let flags: (host: FleetHost) => string[] = () => [];
  const plan = async (host: FleetHost) => {
    const check = checks.find((each) => each.host.name === host.name)!;
    if (check.problem) return out.warn(check.problem, host.name);
    out.info(`live ${check.probe?.live ?? 'none'} ${check.probe?.commit?.slice(0, 7) ?? ''}; its plan:`, host.name);
    const target = commit ?? revision;
    const result = await ctx.remote.query(host, ['deploy', '--dry-run', '--json', ...flags(host), ...(target ? ['--', target] : [])], { timeoutMs: 60_000 });
    for (const event of parseEvents(result.stdout)) out.hostEvent(host.name, event);
    if (result.exitCode !== 0) {
      failedPlans++;
      out.warn(`its dry run failed (exit ${result.exitCode}): ${result.tracker.tail(2).join(' ') || 'see above'}`, host.name);
    }
  };
  const what = `fleet deploy ${revision ?? 'DEPLOY_BRANCH'} (dry run, nothing changes): ${config.hosts.length} host(s), ${config.strategy}`;
  if (config.strategy === 'blue-green') {
    // As blueGreenChange: the idle group deploys (the first deploy goes to A), then the switch; the live group stays warm.
    const recorded = recordedGroup(checks);
    if (recorded.problem) out.warn(`${recorded.problem}; a real deploy would stop there`);
    const to = recorded.group ? otherGroup(recorded.group) : 'A';
    const names = (hosts: FleetHost[]) => hosts.map((host) => host.name).join(', ');
    out.info(`${what}; live group ${recorded.group ?? 'none'}`);
    out.info(`group ${to} deploys, all at once: ${names(config.groups[to])}`);
    const ordered = order([config.groups[to]]);
    flags = ordered.flags;
    for (const host of ordered.batches.flat()) await plan(host);
    out.info(`then FLEET_SWITCH_CMD moves traffic to group ${to}${config.switchCheckCmd ? ', confirmed by FLEET_SWITCH_CHECK_CMD' : ''}; group ${otherGroup(to)} (${names(config.groups[otherGroup(to)])}) stays warm on its release`);
  } else {
    out.info(`${what}, ${shapeLine(config)}, on failure ${config.onFailure}${config.checkCmd ? `, FLEET_CHECK_CMD after each batch: ${config.checkCmd}` : ''}`);
    const ordered = order(planBatches(config.hosts, config.batch, config.canaryHosts));
    const batches = ordered.batches;
    flags = ordered.flags;
    for (const [index, batch] of batches.entries()) {
      out.info(`batch ${index + 1} of ${batches.length}: ${batch.map((host) => host.name).join(', ')}`);
      for (const host of batch) await plan(host);
    }
  }
  const bad = checks.filter((check) => check.problem);
  if (bad.length) out.warn(`a real deploy would stop at the preflight: ${bad.length} host(s) to fix first`);
  return bad.length || failedPlans ? 1 : 0;
}
