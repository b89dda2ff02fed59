import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName } from '../../lib/cli/events.ts';
import { waitFor } from '../../harness/wait.ts';
import { startFleetTest, type FleetTest } from '../support/fleet.ts';

/**
 * Issue #32 on two real hosts (network namespaces, each its own sshd, nginx and Switchyard): the
 * controller's secrets stay out of every output, two controllers started together leave exactly one
 * deploying, a dry run of a missing revision fails, --json prints only events, a lease a clock ahead
 * wrote does not hold a host for ever.
 */
const EVENTS: EventName[] = ['step', 'progress', 'output', 'info', 'warning', 'error', 'success', 'plan'];

describe('a fleet under audit', () => {
  let bed: FleetTest;
  let version = 1;
  const commitVersion = () => bed.commitVersion(`v${++version}`);
  const writeEnv = (extra: Record<string, string> = {}) => bed.writeController({ FLEET_BATCH: '100%', ...extra });
  /** Every stdout line of a --json run is one event of the Event union. */
  const jsonEvents = (stdout: string) => stdout.split('\n').filter(Boolean).map((line) => {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      throw new Error(`not a JSON line in the --json stream: ${line}`);
    }
    expect(EVENTS, line).toContain(event.event);
    return event;
  });

  beforeAll(async () => {
    bed = await startFleetTest({ name: 'swy-fleet-audit-', count: 2 });
    writeEnv();
  }, 300_000);

  afterAll(() => bed?.cleanUp(), 120_000);

  it("a failing FLEET_CHECK_CMD that prints FLEET_API_TOKEN and a URL password: neither reaches stdout, stderr, --json or any host's fleet-history.jsonl; every --json line is an event", async () => {
    const token = `tok${randomBytes(12).toString('hex')}`;
    const password = `pw${randomBytes(10).toString('hex')}`;
    // The token is in the check as written (so in the `error:` line's command) and in what it prints; the URL password only in what it prints.
    const check = `echo "GET https://monitor:${password}@front.invalid/health"; echo "Authorization: Bearer ${token}" >&2; echo "token via env: $FLEET_API_TOKEN"; exit 3`;
    writeEnv({ FLEET_API_TOKEN: token, FLEET_CHECK_CMD: check, FLEET_ON_FAILURE: 'halt' });
    try {
      const text = await bed.run(['deploy'], { FLEET_API_TOKEN: token });
      expect(text.exitCode, text.stderr).toBe(1);
      expect(text.stderr).toMatch(/error: fleet deploy .* failed at the check: FLEET_CHECK_CMD failed after/);
      const json = await bed.run(['deploy', '--json'], { FLEET_API_TOKEN: token });
      expect(json.exitCode, json.stderr).toBe(1);

      const events = jsonEvents(json.stdout);
      expect(events.find((event) => event.event === 'error')?.message).toMatch(/failed at the check/);
      // The check's lines come as output events of its step, redacted.
      expect(events.filter((event) => event.event === 'output' && event.step === 'check').map((event) => event.line)).toContain('GET https://[REDACTED]@front.invalid/health');
      const histories = bed.fleet.hosts.map((host) => readFileSync(path.join(host.deployRootOutside, 'fleet-history.jsonl'), 'utf8'));
      for (const history of histories) expect(history).toMatch(/"reason":"fleet deploy .*FLEET_CHECK_CMD failed/);
      for (const [where, output] of Object.entries({ 'text stdout': text.stdout, 'text stderr': text.stderr, 'json stdout': json.stdout, 'json stderr': json.stderr, ...Object.fromEntries(histories.map((history, index) => [`fleet-history.jsonl of host ${index + 1}`, history])) })) {
        expect(output, where).not.toContain(token);
        expect(output, where).not.toContain(password);
      }
      expect(text.stderr).toContain('[REDACTED]');
    } finally {
      writeEnv();
    }
  }, 400_000);

  it('--dry-run of a revision that does not exist exits non-zero with one clear line', async () => {
    const dry = await bed.run(['deploy', '--dry-run', '--', 'no-such-revision']);
    expect(dry.exitCode, dry.stdout + dry.stderr).not.toBe(0);
    const errors = dry.stderr.split('\n').filter((line) => line.startsWith('error: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/could not resolve "no-such-revision" on .*nothing was changed/);
  }, 200_000);

  it('two controllers started 10 ms apart, several rounds: exactly one deploys each round, the other exits 75 having changed nothing', async () => {
    for (let round = 1; round <= 6; round++) {
      const target = commitVersion();
      const first = bed.command(['deploy']);
      await sleep(10);
      const second = bed.command(['deploy']);
      const results = await Promise.all([first, second]);
      const codes = results.map((result) => result.exitCode);
      const output = results.map((result) => `${result.stdout}\n${result.stderr}`).join('\n---\n');
      expect([...codes].sort(), `round ${round}: ${output}`).toEqual([0, 75]);
      // The loser stopped at the host first in name order, held by the winner.
      const winnerId = /fleet deploy (\S+):/.exec(String(results[codes.indexOf(0)].stdout))?.[1];
      const firstHost = bed.fleet.hosts.map((host) => host.target).sort()[0];
      expect(results[codes.indexOf(75)].stderr, `round ${round}`).toContain(`another fleet command holds the fleet: ${firstHost} is held by a running fleet deploy ${winnerId} `);
      expect(bed.liveCommits(), `round ${round}`).toEqual([target, target]);
      for (const host of bed.fleet.hosts) expect(existsSync(path.join(host.deployRootOutside, 'fleet.lease')), `round ${round}: ${host.target}`).toBe(false);
    }
  }, 800_000);

  it('a probe refused the lease resolves nothing: no fetch into the mirror beside the holder\'s', async () => {
    const host = bed.fleet.hosts[0];
    const probe = async (id: string) => JSON.parse((await host.run(['fleet', 'probe', '--json', '--take', id, '--holder', 'audit', '--resolve='])).stdout);
    const holder = await probe('20261206T120000-aaaaaa');
    expect(holder.taken).toEqual({ taken: true });
    expect(holder.resolved.commit).toMatch(/^[0-9a-f]{40}$/);
    const refused = await probe('20261206T120001-bbbbbb');
    expect(refused.taken).toMatchObject({ taken: false, holder: { id: '20261206T120000-aaaaaa' } });
    expect(refused.resolved).toBeNull();
    expect((await host.run(['fleet', 'lease', 'release', '20261206T120000-aaaaaa'])).exitCode).toBe(0);
  }, 120_000);

  it("a lease written by a clock far ahead holds a host only for the lease's lifetime from when it is read", async () => {
    const lease = path.join(bed.fleet.hosts[1].deployRootOutside, 'fleet.lease');
    const now = Date.now();
    const year = 365 * 24 * 3600_000;
    writeFileSync(lease, JSON.stringify({ id: 'ahead-1', command: 'deploy', holder: 'ci@elsewhere', controller: { host: 'elsewhere', pid: 4242 }, takenAt: new Date(now + year).toISOString(), expiresAt: new Date(now + year + 2000).toISOString(), ttlS: 2 }));
    const held = await bed.run(['deploy']);
    expect(held.exitCode, held.stderr).toBe(75);
    const capped = Date.parse(JSON.parse(readFileSync(lease, 'utf8')).expiresAt);
    expect(capped).toBeLessThanOrEqual(Date.now() + 2000);
    await waitFor('the capped lease to expire', () => Date.now() > capped + 100, { timeoutMs: 10_000 });
    const target = commitVersion();
    const deployed = await bed.run(['deploy']);
    expect(deployed.exitCode, deployed.stderr).toBe(0);
    expect(bed.liveCommits()).toEqual([target, target]);
  }, 400_000);
});
