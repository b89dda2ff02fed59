import { appendFileSync, linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { removeStaleLock } from '../host/file-lock.ts';
import { ensurePrivateDir, writeFileAtomic } from '../host/files.ts';

/**
 * The fleet lease: a fleet deploy or rollback holds every host of the fleet from its preflight to its
 * end. A host's own deploy, rollback and restart refuse to start while a lease they are not part of
 * is held (the fleet passes its id in SWITCHYARD_FLEET_ID); the lease expires by the host's clock
 * unless the controller renews it, so a controller that died never leaves a fleet stuck.
 */

export type FleetLease = {
  id: string;
  command: string;
  /** `user@controller-host`: who to ask. */
  holder: string;
  /** The controller's process, so the next fleet command on that machine can tell it is gone. */
  controller: { host: string; pid: number; processStart?: number };
  takenAt: string;
  expiresAt: string;
  /** Its stated lifetime (the --ttl it was taken or last renewed with): no read ever lets it hold longer from now. */
  ttlS?: number;
};

export type FleetRecord = {
  id: string;
  command: string;
  holder: string;
  commit: string | null;
  outcome: string;
  at: string;
  reason?: string;
};

export const LEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** How long a lease holds unless renewed (the controller renews it every quarter of that). */
export const LEASE_TTL_S = 120;

export function leasePath(deployRoot: string): string {
  return path.join(deployRoot, 'fleet.lease');
}

export function fleetHistoryPath(deployRoot: string): string {
  return path.join(deployRoot, 'fleet-history.jsonl');
}

/**
 * The lease, its expiry capped at now + its lifetime. A lease written while the host's clock ran
 * ahead (then stepped back) would hold the host until a person deleted it; the first read after the
 * step writes the capped expiry back, so it ends one lifetime later unless its controller renews it.
 */
export function readLease(deployRoot: string, now = Date.now()): FleetLease | undefined {
  const file = leasePath(deployRoot);
  const lease = readLeaseFile(file);
  if (!lease) return undefined;
  const capped = capLease(lease, now);
  if (capped !== lease) {
    try {
      // Only the lease read above (one renewed, released or replaced meanwhile is left as it is now), and only by its owner (the file stays theirs).
      if (statSync(file).uid === process.getuid?.() && sameLease(readLeaseFile(file), lease)) writeFileAtomic(file, JSON.stringify(capped));
    } catch {
      // A DEPLOY_ROOT this user cannot write: the cap holds for this read only.
    }
  }
  return capped;
}

/** The lease with its expiry no later than `now` + its lifetime; the same object when it already is. Pure. */
export function capLease(lease: FleetLease, now: number): FleetLease {
  const latest = now + (lease.ttlS && lease.ttlS > 0 ? lease.ttlS : LEASE_TTL_S) * 1000;
  return Date.parse(lease.expiresAt) > latest ? { ...lease, expiresAt: new Date(latest).toISOString() } : lease;
}

function sameLease(a: FleetLease | undefined, b: FleetLease): boolean {
  return a?.id === b.id && a.takenAt === b.takenAt && a.expiresAt === b.expiresAt;
}

function readLeaseFile(file: string): FleetLease | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return typeof data.id === 'string' && typeof data.expiresAt === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

export function isExpired(lease: FleetLease, now = Date.now()): boolean {
  return !(Date.parse(lease.expiresAt) > now);
}

export function describeLease(lease: FleetLease): string {
  return `fleet ${lease.command} ${lease.id} by ${lease.holder} (controller pid ${lease.controller.pid}, taken ${lease.takenAt}, lease expires ${lease.expiresAt})`;
}

/** The lease a command outside fleet `fleetId` must wait for, if one is held and not expired. */
export function blockingLease(deployRoot: string, fleetId: string | undefined, now = Date.now()): FleetLease | undefined {
  const lease = readLease(deployRoot, now);
  return lease && !isExpired(lease, now) && lease.id !== fleetId ? lease : undefined;
}

/** The refusal a host-level deploy, rollback or restart gets during a fleet rollout (exit 75, as for the deploy lock). */
export function fleetLeaseRefusal(deployRoot: string, command: string, fleetId: string | undefined): SwitchyardError | undefined {
  if (!['deploy', 'rollback', 'restart'].includes(command)) return undefined;
  const lease = blockingLease(deployRoot, fleetId);
  if (!lease) return undefined;
  return new SwitchyardError(`this host is part of a running ${describeLease(lease)}`, {
    untouched: 'nothing was changed',
    next: 'wait for the fleet command to finish (`./deploy.ts fleet status` on its controller), or run this through it',
    exitCode: 75,
  });
}

export type TakeResult = { taken: true; replaced?: FleetLease } | { taken: false; holder: FleetLease };

/**
 * Take (or renew, for the same id) the lease. An expired lease, or the one named by `replace` (a
 * holder the controller checked is gone), is moved aside atomically first: of two takers one wins.
 */
export function takeLease(deployRoot: string, lease: FleetLease, options: { replace?: string } = {}): TakeResult {
  ensurePrivateDir(deployRoot);
  const file = leasePath(deployRoot);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(lease), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(temp, file);
        return { taken: true };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const existing = readLease(deployRoot);
      if (existing?.id === lease.id) {
        renameSync(temp, file);
        return { taken: true };
      }
      if (existing && !isExpired(existing) && existing.id !== options.replace) return { taken: false, holder: existing };
      // Expired (or named by `replace`): moved aside, unless another taker replaced it between our read and the move.
      const removed = removeStaleLock(file, (aside) => {
        const moved = readLeaseFile(aside);
        return !existing || (moved?.id === existing.id && moved?.takenAt === existing.takenAt);
      });
      if (removed !== 'removed') continue;
      try {
        linkSync(temp, file);
        return { taken: true, ...(existing ? { replaced: existing } : {}) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const holder = readLease(deployRoot);
    if (holder) return { taken: false, holder };
    throw new SwitchyardError(`could not take the fleet lease ${file}`, { untouched: 'nothing was changed', next: 'run the fleet command again' });
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Move the expiry on to `ttlS` from now, only while `id` holds the lease. */
export function renewLease(deployRoot: string, id: string, ttlS: number, now = Date.now()): boolean {
  const lease = readLease(deployRoot, now);
  if (lease?.id !== id) return false;
  writeFileAtomic(leasePath(deployRoot), JSON.stringify({ ...lease, expiresAt: new Date(now + ttlS * 1000).toISOString(), ttlS }));
  return true;
}

/** Release only the lease `id` holds; the outcome is kept in DEPLOY_ROOT/fleet-history.jsonl for `fleet history`. */
export function releaseLease(deployRoot: string, id: string, record?: FleetRecord): boolean {
  if (record) appendFileSync(fleetHistoryPath(deployRoot), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  if (readLease(deployRoot)?.id !== id) return false;
  rmSync(leasePath(deployRoot), { force: true });
  return true;
}

export function readFleetHistory(deployRoot: string, count: number): FleetRecord[] {
  try {
    return readFileSync(fleetHistoryPath(deployRoot), 'utf8').split('\n').filter(Boolean).slice(-count).flatMap((line) => {
      try {
        return [JSON.parse(line) as FleetRecord];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}
