import type { FleetRecord } from '../record/fleet-lease.ts';
import type { FleetHost } from './hosts.ts';
import { checkHosts, type Probe } from './preflight.ts';
import type { Remote } from './remote.ts';
import type { FleetOutput } from './output.ts';
import { otherGroup, type Group } from './switch.ts';

/** `fleet status` and `fleet history`: every host read in parallel (each bounded), merged. */

export type HostStatus = {
  host: string;
  reached: boolean;
  problem: string | null;
  live: string | null;
  commit: string | null;
  healthy: boolean | null;
  bakeEndsAt: string | null;
  group: string | null;
  lease: string | null;
};

/** `versions`: what the hosts taking traffic serve (blue-green: the live group's); `notes`: what is normal but worth knowing. */
/** What a host's `status --json` holds that the fleet reads. */
type HostStatusDocument = {
  live?: string | null;
  slots?: Record<string, { commit?: string | null; healthy?: boolean } | undefined>;
  bake?: { endsAt?: string | null } | null;
};

export type FleetStatus = { hosts: HostStatus[]; versions: string[]; warnings: string[]; notes: string[] };

/** `groups`: blue-green's two groups, whose idle one serving another version (warm for rollback) is normal. */
export async function readFleetStatus(
  remote: Remote,
  hosts: FleetHost[],
  groups?: { A: FleetHost[]; B: FleetHost[] },
): Promise<FleetStatus> {
  const [checks, statuses] = await Promise.all([checkHosts(remote, hosts), Promise.all(hosts.map((host) => remote.query(host, ['status', '--json'], { timeoutMs: 30_000 })))]);
  const rows = hosts.map((host, index): HostStatus => {
    const probe: Probe | undefined = checks[index].probe;
    const status = statuses[index].json as HostStatusDocument | undefined;
    const live = status?.live ?? probe?.live ?? null;
    return {
      host: host.name,
      reached: statuses[index].reached && Boolean(probe),
      problem: checks[index].problem && !checks[index].heldBy ? checks[index].problem! : null,
      live,
      commit: (live && status?.slots?.[live]?.commit) ?? probe?.commit ?? null,
      healthy: live && status?.slots?.[live] ? Boolean(status.slots[live].healthy) : null,
      bakeEndsAt: status?.bake?.endsAt ?? null,
      group: probe?.group?.group ?? null,
      lease: probe?.lease && Date.parse(probe.lease.expiresAt) > Date.now() ? `${probe.lease.command} ${probe.lease.id} by ${probe.lease.holder}` : null,
    };
  });
  const warnings: string[] = [];
  const notes: string[] = [];
  const liveGroup = groups ? (rows.find((row) => row.group)?.group as Group | undefined) : undefined;
  const rowsOf = (group: Group) => rows.filter((row) => groups![group].some((host) => host.name === row.host));
  // Blue-green: only the live group takes traffic, so only its hosts must agree; the idle group is the rollback.
  const serving = liveGroup ? rowsOf(liveGroup) : rows;
  const servingVersions = versionsOf(serving);
  if (servingVersions.length > 1) {
    const whose = liveGroup ? `the live group ${liveGroup} serves` : 'the fleet serves';
    warnings.push(`${whose} ${servingVersions.length} versions: ${whereEach(serving)}; run \`./deploy.ts fleet deploy\` or \`fleet rollback\` to put it on one`);
  }
  if (liveGroup) {
    const idle = otherGroup(liveGroup);
    if (versionsOf(rowsOf(idle)).length) notes.push(`group ${idle} is idle, warm for \`fleet rollback\`: ${whereEach(rowsOf(idle))}`);
  }
  for (const row of rows) {
    if (row.problem) warnings.push(`${row.host}: ${row.problem}`);
    else if (row.live && row.healthy === false) warnings.push(`${row.host}: its live slot ${row.live} is not healthy`);
    else if (!row.live) warnings.push(`${row.host}: serves nothing yet`);
  }
  const recordedGroups = [...new Set(rows.map((row) => row.group).filter(Boolean))];
  if (recordedGroups.length > 1) warnings.push(`the hosts disagree on the live group (${recordedGroups.join(' and ')}): the last blue-green switch did not reach every host`);
  return { hosts: rows, versions: servingVersions, warnings, notes };
}

/** The commits these hosts serve, each once. Pure. */
function versionsOf(rows: HostStatus[]): string[] {
  return [...new Set(rows.filter((row) => row.commit).map((row) => row.commit!))];
}

/** `abc1234 on web1, web2; def5678 on web3`. Pure. */
function whereEach(rows: HostStatus[]): string {
  return versionsOf(rows).map((commit) => `${commit.slice(0, 7)} on ${rows.filter((row) => row.commit === commit).map((row) => row.host).join(', ')}`).join('; ');
}

export function printFleetStatus(out: FleetOutput, status: FleetStatus): void {
  out.info('host                              live  commit   health     bake          group  lease');
  for (const row of status.hosts) {
    const health = !row.reached ? 'UNREACHED' : row.healthy === null ? '-' : row.healthy ? 'healthy' : 'UNHEALTHY';
    out.info(`${row.host.padEnd(33)} ${String(row.live ?? '-').padEnd(5)} ${(row.commit?.slice(0, 7) ?? '-').padEnd(8)} ${health.padEnd(10)} ${(row.bakeEndsAt ? `until ${row.bakeEndsAt.slice(11, 19)}` : '-').padEnd(13)} ${String(row.group ?? '-').padEnd(6)} ${row.lease ?? '-'}`);
  }
  for (const note of status.notes) out.info(note);
  for (const warning of status.warnings) out.warn(warning);
  const serving = status.hosts.filter((row) => row.commit && status.versions.includes(row.commit)).length;
  if (status.versions.length === 1 && status.warnings.length === 0) out.success(`one version on ${serving} host(s) taking traffic: ${status.versions[0].slice(0, 7)}`);
}

export type FleetHistoryEntry = {
  id: string;
  command: string;
  holder: string;
  commit: string | null;
  at: string;
  outcomes: Record<string, string>;
  reason?: string;
};

/** Each host's fleet records, merged by fleet command (its id), oldest first. Pure. */
export function mergeHistories(perHost: { host: string; records: FleetRecord[] }[]): FleetHistoryEntry[] {
  const byId = new Map<string, FleetHistoryEntry>();
  for (const { host, records } of perHost) {
    for (const record of records) {
      const { id, command, holder, commit, at, reason } = record;
      const entry = byId.get(id) ?? { id, command, holder, commit, at, outcomes: {}, ...(reason ? { reason } : {}) };
      entry.outcomes[host] = record.outcome;
      if (record.at < entry.at) entry.at = record.at;
      byId.set(record.id, entry);
    }
  }
  return [...byId.values()].sort((a, b) => a.at.localeCompare(b.at));
}
