import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../host/files.ts';
import type { FleetHost } from './hosts.ts';

/**
 * Blue-green: the controller's own record of the last switch it made (beside its .env), so `fleet rollback`
 * can move the front before it asks any host. Each host's record (group.ts) stays the truth: the hosts
 * check the switch against this one right after it, and a stale record switches back.
 */

export type ControllerRecord = {
  /** The group the switch made live, by the fleet command `fleetId`, serving `commit`. */
  group: 'A' | 'B';
  fleetId: string;
  commit: string | null;
  /** What the other group serves, warm: the rollback's target. */
  idleCommit: string | null;
  /** The groups as FLEET_GROUP_A/B named them then: a record of other groups is not used. */
  groups: { A: string[]; B: string[] };
  at: string;
};

export function readControllerRecord(file: string): ControllerRecord | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return (data.group === 'A' || data.group === 'B') && typeof data.fleetId === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

export function writeControllerRecord(file: string, record: ControllerRecord): void {
  writeFileAtomic(file, `${JSON.stringify(record)}\n`);
}

/** Before a blue-green deploy changes the idle group: the record's warm group is no longer known to be warm. */
export function forgetControllerRecord(file: string): void {
  rmSync(file, { force: true });
}

export const groupNames = (groups: Record<'A' | 'B', FleetHost[]>) => ({ A: groups.A.map((host) => host.name), B: groups.B.map((host) => host.name) });

/** The record, when a rollback may switch from it: made for these same groups, with a warm commit to go back to. Pure. */
export function usableRecord(record: ControllerRecord | undefined, groups: Record<'A' | 'B', FleetHost[]>): ControllerRecord | undefined {
  if (!record?.idleCommit) return undefined;
  const names = groupNames(groups);
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((name, index) => name === b[index]);
  return same(record.groups?.A ?? [], names.A) && same(record.groups?.B ?? [], names.B) ? record : undefined;
}
