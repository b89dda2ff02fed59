import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forgetControllerRecord, readControllerRecord, usableRecord, writeControllerRecord, type ControllerRecord } from '../../lib/fleet/fleet-record.ts';
import { groupTurnProblem } from '../../lib/fleet/group.ts';
import { parseHosts } from '../../lib/fleet/hosts.ts';

/** Blue-green rollback, switch first: when the controller's record may be used, and what a host must show for the switch to stand. */

const groups = { A: parseHosts('web1 web2'), B: parseHosts('web3') };
const sha = (digit: string) => digit.repeat(40);
const record: ControllerRecord = { group: 'B', fleetId: 'f2', commit: sha('2'), idleCommit: sha('1'), groups: { A: ['web1', 'web2'], B: ['web3'] }, at: '2026-01-01T00:00:00Z' };

describe("the controller's record", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-record-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is used only for the same groups and with a warm commit to go back to', () => {
    expect(usableRecord(record, groups)).toBe(record);
    expect(usableRecord(undefined, groups)).toBeUndefined();
    expect(usableRecord({ ...record, idleCommit: null }, groups)).toBeUndefined();
    expect(usableRecord(record, { A: parseHosts('web1'), B: parseHosts('web3') })).toBeUndefined();
    expect(usableRecord(record, { A: parseHosts('web2 web1'), B: parseHosts('web3') })).toBeUndefined();
    expect(usableRecord(record, { A: parseHosts('web1 web2'), B: parseHosts('web3 web4') })).toBeUndefined();
  });

  it('is written whole, read back, and forgotten; an unreadable one is none', () => {
    const file = path.join(dir, 'record.json');
    writeControllerRecord(file, record);
    expect(readControllerRecord(file)).toEqual(record);
    forgetControllerRecord(file);
    expect(readControllerRecord(file)).toBeUndefined();
    writeControllerRecord(file, { ...record, group: 'C' as 'A' });
    expect(readControllerRecord(file)).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toContain('"C"');
  });
});

describe('a host confirming the switch made from that record', () => {
  const expected = { group: 'B' as const, fleetId: 'f2', commit: sha('1') };
  const recorded = { group: 'B' as const, fleetId: 'f2', commit: sha('2'), at: '2026-01-01T00:00:00Z' };

  it('confirms when its record, its deploy lock and its live commit are what the record says', () => {
    expect(groupTurnProblem(expected, { recorded, live: sha('1'), deploying: undefined })).toBeUndefined();
    expect(groupTurnProblem({ group: 'B', fleetId: 'f2' }, { recorded, live: sha('2'), deploying: undefined })).toBeUndefined();
  });

  it('refuses a stale record, a deploy running, another commit on the warm group, each named', () => {
    expect(groupTurnProblem(expected, { recorded: { ...recorded, fleetId: 'f3' }, live: sha('1'), deploying: undefined }))
      .toBe("its record says group B live since fleet f3, not group B of fleet f2 as the controller's record does");
    expect(groupTurnProblem(expected, { recorded: { ...recorded, group: 'A' }, live: sha('1'), deploying: undefined })).toMatch(/its record says group A live/);
    expect(groupTurnProblem(expected, { recorded: undefined, live: sha('1'), deploying: undefined })).toMatch(/its record says no live group/);
    expect(groupTurnProblem(expected, { recorded, live: sha('1'), deploying: 'deploy' })).toBe('a deploy is running there');
    expect(groupTurnProblem(expected, { recorded, live: sha('3'), deploying: undefined }))
      .toBe("it serves 3333333, not 1111111 which the controller's record kept warm there");
    expect(groupTurnProblem(expected, { recorded, live: null, deploying: undefined })).toMatch(/it serves nothing/);
  });
});
