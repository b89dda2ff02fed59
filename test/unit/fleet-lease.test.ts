import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireLock, releaseLock } from '../../lib/record/lock.ts';
import { blockingLease, capLease, fleetLeaseRefusal, readFleetHistory, readLease, releaseLease, renewLease, takeLease, type FleetLease } from '../../lib/record/fleet-lease.ts';

/** The fleet lease on one host's DEPLOY_ROOT: taken, renewed, refused, expired, taken over, and seen by the host's own deploy lock. */
describe('the fleet lease', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'swy-fleet-lease-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const lease = (id: string, expiresInMs: number): FleetLease => ({
    id, command: 'deploy', holder: 'ana@ci', controller: { host: 'ci', pid: 1 }, takenAt: new Date().toISOString(), expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
  });

  it('one holder at a time; the same id renews; another is refused until it expires or is named to replace', () => {
    expect(takeLease(root, lease('f1', 60_000))).toEqual({ taken: true });
    expect(takeLease(root, lease('f1', 60_000))).toEqual({ taken: true });
    const refused = takeLease(root, lease('f2', 60_000));
    expect(refused.taken).toBe(false);
    expect(!refused.taken && refused.holder.id).toBe('f1');
    expect(takeLease(root, lease('f2', 60_000), { replace: 'f1' })).toMatchObject({ taken: true, replaced: { id: 'f1' } });
    expect(renewLease(root, 'f1', 120)).toBe(false);
    expect(renewLease(root, 'f2', 120)).toBe(true);
    expect(releaseLease(root, 'f1')).toBe(false);
    expect(releaseLease(root, 'f2', { id: 'f2', command: 'deploy', holder: 'ana@ci', commit: 'c', outcome: 'success', at: new Date().toISOString() })).toBe(true);
    expect(readLease(root)).toBeUndefined();
    expect(readFleetHistory(root, 5).map((record) => record.outcome)).toEqual(['success']);
    // An expired lease (a controller that died and stopped renewing) is taken over by the next one.
    takeLease(root, lease('dead', -1000));
    expect(blockingLease(root, undefined)).toBeUndefined();
    expect(takeLease(root, lease('f3', 60_000))).toMatchObject({ taken: true, replaced: { id: 'dead' } });
  });

  it("the host's own deploy, rollback and restart refuse while a fleet holds it; the fleet's own commands and other commands do not", () => {
    expect(fleetLeaseRefusal(root, 'deploy', undefined)?.exitCode).toBe(75);
    expect(fleetLeaseRefusal(root, 'restart', 'other')?.line).toMatch(/this host is part of a running fleet deploy f3 by ana@ci/);
    expect(fleetLeaseRefusal(root, 'deploy', 'f3')).toBeUndefined();
    expect(fleetLeaseRefusal(root, 'bake-watch', undefined)).toBeUndefined();
    expect(() => acquireLock(root, 'rollback', 'bob')).toThrow(/this host is part of a running fleet deploy f3/);
    const lock = acquireLock(root, 'resume', 'bob');
    releaseLock(lock);
    releaseLease(root, 'f3');
    releaseLock(acquireLock(root, 'deploy', 'bob'));
  });

  it('a lease a clock far ahead wrote holds for its lifetime from the first read, not until its stated expiry; a renewal moves it on again', () => {
    const year = 365 * 24 * 3600_000;
    const now = Date.now();
    const ahead: FleetLease = { ...lease('ahead', year), takenAt: new Date(now + year).toISOString(), ttlS: 30 };
    expect(capLease(ahead, now).expiresAt).toBe(new Date(now + 30_000).toISOString());
    // One lease made once: two would be a millisecond apart now and then.
    const fine = lease('fine', 10_000);
    expect(capLease(fine, now).expiresAt).toBe(fine.expiresAt);
    // No stated lifetime (a lease of an older Switchyard): the default 120 s.
    expect(capLease(lease('old', year), now).expiresAt).toBe(new Date(now + 120_000).toISOString());
    const file = path.join(root, 'fleet.lease');
    writeFileSync(file, JSON.stringify(ahead), { mode: 0o600 });
    // The first read writes the cap back: a later read does not move it on, so it ends.
    expect(readLease(root, now)?.expiresAt).toBe(new Date(now + 30_000).toISOString());
    expect(JSON.parse(readFileSync(file, 'utf8')).expiresAt).toBe(new Date(now + 30_000).toISOString());
    expect(blockingLease(root, undefined, now + 20_000)?.id).toBe('ahead');
    expect(blockingLease(root, undefined, now + 31_000)).toBeUndefined();
    expect(takeLease(root, lease('next', 60_000))).toMatchObject({ taken: false });
    // Its holder, still running, renews it: the lifetime counts from the renewal.
    expect(renewLease(root, 'ahead', 30, now + 25_000)).toBe(true);
    expect(blockingLease(root, undefined, now + 50_000)?.id).toBe('ahead');
    expect(blockingLease(root, undefined, now + 56_000)).toBeUndefined();
    releaseLease(root, 'ahead');
  });
});
