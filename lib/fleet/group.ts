import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../host/files.ts';

/** Blue-green: which group is live, recorded on every host, so any controller reads the same. */

export type LiveGroup = { group: 'A' | 'B'; commit: string | null; fleetId: string; at: string };

export function groupPath(deployRoot: string): string {
  return path.join(deployRoot, 'fleet-group.json');
}

export function readLiveGroup(deployRoot: string): LiveGroup | undefined {
  try {
    const data = JSON.parse(readFileSync(groupPath(deployRoot), 'utf8'));
    return data.group === 'A' || data.group === 'B' ? data : undefined;
  } catch {
    return undefined;
  }
}

export function writeLiveGroup(deployRoot: string, group: LiveGroup): void {
  writeFileAtomic(groupPath(deployRoot), JSON.stringify(group));
}

/** What a host must still show for a blue-green switch made from the controller's record to stand (see blue-green-rollback.ts). */
export type GroupExpectation = { group: 'A' | 'B'; fleetId: string; commit?: string };

/**
 * Why a switch made from the controller's record does not stand on this host, or nothing: the host's
 * record names another group or fleet command (the controller's record is stale), a deploy runs there,
 * or (a host of the group switched to) it serves another commit than the one kept warm. Pure.
 */
export function groupTurnProblem(
  expected: GroupExpectation,
  facts: { recorded: LiveGroup | undefined; live: string | null; deploying: string | undefined },
): string | undefined {
  const { recorded } = facts;
  if (recorded?.group !== expected.group || recorded.fleetId !== expected.fleetId) {
    const theirs = recorded ? `group ${recorded.group} live since fleet ${recorded.fleetId}` : 'no live group';
    return `its record says ${theirs}, not group ${expected.group} of fleet ${expected.fleetId} as the controller's record does`;
  }
  if (facts.deploying) return `a ${facts.deploying} is running there`;
  if (expected.commit && facts.live !== expected.commit) {
    return `it serves ${facts.live?.slice(0, 7) ?? 'nothing'}, not ${expected.commit.slice(0, 7)} which the controller's record kept warm there`;
  }
  return undefined;
}
