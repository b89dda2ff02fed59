import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { redactorFor } from '../../lib/config/redact.ts';
import { recordedGroup } from '../../lib/fleet/blue-green.ts';
import { switchEnv } from '../../lib/fleet/switch.ts';
import { mergeHistories } from '../../lib/fleet/status.ts';
import { batchWidth, makeBatches, parseBatchSize } from '../../lib/fleet/batches.ts';
import { parseFleetConfig } from '../../lib/fleet/config.ts';
import { trackEvents } from '../../lib/fleet/events.ts';
import { parseHosts } from '../../lib/fleet/hosts.ts';
import { createOutput, type FleetOutput } from '../../lib/fleet/output.ts';
import { leaseOrder } from '../../lib/fleet/hosts.ts';
import { releaseLeases } from '../../lib/fleet/rolling.ts';
import { createLimit } from '../../lib/fleet/limit.ts';
import type { Remote } from '../../lib/fleet/remote.ts';
import type { FleetConfig } from '../../lib/fleet/config.ts';
import { rollout, type HostResult } from '../../lib/fleet/rollout.ts';

/** The fleet layer's pure parts: FLEET_HOSTS, FLEET_BATCH, the rollout's order and reverts. */

describe('FLEET_HOSTS', () => {
  it('takes aliases, user@host and ssh://user@host:port, separated by spaces or commas', () => {
    expect(parseHosts('web1, deploy@web2.example.com  ssh://root@10.0.0.3:2222,ssh://web4 ssh://[::1]:22')).toEqual([
      { name: 'web1', destination: 'web1' },
      { name: 'deploy@web2.example.com', destination: 'deploy@web2.example.com' },
      { name: 'ssh://root@10.0.0.3:2222', destination: 'root@10.0.0.3', port: 2222 },
      { name: 'ssh://web4', destination: 'web4' },
      { name: 'ssh://[::1]:22', destination: '::1', port: 22 },
    ]);
  });
  it('refuses options, shell characters, bad ports and duplicates, naming each', () => {
    expect(() => parseHosts('-oProxyCommand=x')).toThrow(/looks like an ssh option/);
    expect(() => parseHosts('web1;reboot')).toThrow(/not an ssh destination/);
    expect(() => parseHosts('ssh://web1:99999')).toThrow(/port must be 1-65535/);
    expect(() => parseHosts('ssh://a@b:c')).toThrow(/not an ssh:\/\/\[user@\]host\[:port\] address/);
    expect(() => parseHosts('web1 web1')).toThrow(/listed twice/);
  });
});

describe('FLEET_BATCH', () => {
  it('is N hosts or N% of the fleet, rounded up, at least 1 and at most the fleet', () => {
    expect(parseBatchSize('2')).toEqual({ count: 2 });
    expect(parseBatchSize('50%')).toEqual({ percent: 50 });
    for (const bad of ['0', '0%', '101%', 'x', '-1', '']) expect(parseBatchSize(bad)).toBeUndefined();
    expect(batchWidth({ percent: 10 }, 3)).toBe(1);
    expect(batchWidth({ percent: 50 }, 3)).toBe(2);
    expect(batchWidth({ count: 9 }, 3)).toBe(3);
    expect(makeBatches(['a', 'b', 'c', 'd', 'e'], { count: 2 })).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(makeBatches(['a', 'b', 'c'], { percent: 100 })).toEqual([['a', 'b', 'c']]);
  });
});

describe('the controller config', () => {
  const parse = (values: Record<string, string>) => parseFleetConfig((key) => values[key], '/etc/fleet.env');
  it('needs only FLEET_HOSTS; the rest has defaults', () => {
    const config = parse({ FLEET_HOSTS: 'web1 web2' });
    expect(config).toMatchObject({ remote: 'switchyard/deploy.ts', batch: { count: 1 }, onFailure: 'revert', strategy: 'rolling', checkCmd: '' });
    expect(config.hosts.map((host) => host.name)).toEqual(['web1', 'web2']);
    expect(parse({ FLEET_HOSTS: 'a', FLEET_SSH_CONFIG: 'ssh.conf' }).sshConfig).toBe('/etc/ssh.conf');
  });
  it('names every bad key in one error', () => {
    expect(() => parse({ FLEET_BATCH: '0', FLEET_ON_FAILURE: 'ignore' })).toThrow(/FLEET_HOSTS is required.*FLEET_BATCH must be.*FLEET_ON_FAILURE must be revert or halt/);
    expect(() => parse({ FLEET_HOSTS: 'a b', FLEET_STRATEGY: 'blue-green', FLEET_GROUP_A: 'a', FLEET_GROUP_B: 'a c' })).toThrow(/c is in a FLEET_GROUP but not in FLEET_HOSTS.*a is in both.*needs FLEET_SWITCH_CMD/);
  });
});

describe('the rollout', () => {
  const ok: HostResult = { ok: true, switched: true };
  const run = async (failing: Record<string, HostResult>, onFailure: 'revert' | 'halt', check?: (batch: string[]) => boolean) => {
    const calls: string[] = [];
    const result = await rollout([['h1'], ['h2', 'h3'], ['h4']], {
      change: async (host) => (calls.push(`change ${host}`), failing[host] ?? ok),
      revert: async (host) => (calls.push(`revert ${host}`), ok),
      ...(check ? { check: async (batch: string[]) => (calls.push(`check ${batch.join(',')}`), check(batch) ? ok : { ok: false, switched: false, message: 'through the front: 502' }) } : {}),
    }, onFailure);
    return { result, calls };
  };
  it('goes batch by batch and ends with every host changed', async () => {
    const { result, calls } = await run({}, 'revert', () => true);
    expect(result.ok).toBe(true);
    expect(result.changed).toEqual(['h1', 'h2', 'h3', 'h4']);
    expect(calls).toEqual(['change h1', 'check h1', 'change h2', 'change h3', 'check h2,h3', 'change h4', 'check h4']);
  });
  it('revert: the first failure stops it and every switched host goes back; later batches are untouched', async () => {
    const { result, calls } = await run({ h3: { ok: false, switched: false, step: 'health', message: 'not healthy', tail: ['503'] } }, 'revert');
    expect(result).toMatchObject({ ok: false, changed: [], reverted: ['h1', 'h2'], untouched: ['h4'], failure: { host: 'h3', step: 'health', tail: ['503'] } });
    expect(calls).toEqual(['change h1', 'change h2', 'change h3', 'revert h1', 'revert h2']);
  });
  it('halt: the switched hosts stay as they are', async () => {
    const { result } = await run({ h3: { ok: false, switched: false, step: 'health' } }, 'halt');
    expect(result).toMatchObject({ ok: false, changed: ['h1', 'h2'], reverted: [], untouched: ['h4'] });
  });
  it('a failed FLEET_CHECK_CMD is a failure of the batch: its hosts go back too', async () => {
    const { result } = await run({}, 'revert', (batch) => !batch.includes('h2'));
    expect(result).toMatchObject({ ok: false, reverted: ['h1', 'h2', 'h3'], untouched: ['h4'], failure: { host: undefined, step: 'check', message: 'through the front: 502' } });
  });
  it('an interruption during a batch lets that batch finish, starts no other, and is the failure (a check it stopped is not)', async () => {
    let stop: string | undefined;
    const calls: string[] = [];
    const result = await rollout([['h1'], ['h2', 'h3'], ['h4']], {
      change: async (host) => {
        calls.push(`change ${host}`);
        if (host === 'h2') stop = 'interrupted by SIGINT';
        return ok;
      },
      check: async () => (stop ? { ok: false, switched: false, message: 'stopped by the interruption' } : ok),
      revert: async (host) => (calls.push(`revert ${host}`), ok),
      interrupted: () => stop,
    }, 'revert');
    expect(calls).toEqual(['change h1', 'change h2', 'change h3', 'revert h1', 'revert h2', 'revert h3']);
    expect(result).toMatchObject({ ok: false, reverted: ['h1', 'h2', 'h3'], untouched: ['h4'], failure: { host: undefined, step: 'interrupted', message: 'interrupted by SIGINT' } });
  });
});

describe("a host's --json events", () => {
  it('give the failed step, the error and the last lines', () => {
    const tracker = trackEvents();
    for (const line of [
      JSON.stringify({ event: 'step', step: 'fetch', ok: true, detail: 'main → abc' }),
      JSON.stringify({ event: 'output', step: 'build', line: 'compiling' }),
      JSON.stringify({ event: 'step', step: 'health', ok: false, detail: 'HTTP 503' }),
      JSON.stringify({ event: 'error', message: 'slot b did not become healthy', details: [] }),
      'Connection to h closed.',
    ]) tracker.take(line);
    expect(tracker.failedStep()).toBe('health');
    expect(tracker.errorMessage()).toBe('slot b did not become healthy');
    expect(tracker.tail(3)).toEqual(['FAILED health HTTP 503', 'slot b did not become healthy', 'Connection to h closed.']);
  });
});

describe('blue-green and history', () => {
  const host = (name: string) => ({ name, destination: name });
  const check = (name: string, group?: 'A' | 'B', at = '2026-01-01T00:00:00Z') => ({ host: host(name), probe: { version: '1', ...(group ? { group: { group, commit: 'c', fleetId: 'f', at } } : {}) } });
  it('the live group is what every host recorded; none yet is fine, a disagreement is named', () => {
    expect(recordedGroup([check('w1'), check('w2')])).toEqual({ group: undefined, commit: null });
    expect(recordedGroup([check('w1', 'B'), check('w2', 'B')])).toMatchObject({ group: 'B', commit: 'c' });
    expect(recordedGroup([check('w1', 'A'), check('w2', 'B')]).problem).toBe('the hosts disagree on the live group (w1: A, w2: B)');
  });
  it('FLEET_SWITCH_CMD gets the group, its hosts, the previous ones and the commit', () => {
    expect(switchEnv('B', { A: [host('w1')], B: [host('w2'), host('w3')] }, 'abc')).toEqual({
      SWITCHYARD_GROUP: 'B', SWITCHYARD_HOSTS: 'w2 w3', SWITCHYARD_PREVIOUS_GROUP: 'A', SWITCHYARD_PREVIOUS_HOSTS: 'w1', SWITCHYARD_COMMIT: 'abc',
    });
  });
  it('fleet history merges the hosts\' records by fleet command, oldest first', () => {
    const record = (id: string, outcome: string, at: string) => ({ id, command: 'deploy', holder: 'ana@ci', commit: 'c', outcome, at });
    expect(mergeHistories([
      { host: 'w1', records: [record('f1', 'success', '2026-01-01T00:00:02Z'), record('f2', 'reverted', '2026-01-02T00:00:00Z')] },
      { host: 'w2', records: [record('f1', 'success', '2026-01-01T00:00:01Z')] },
    ])).toEqual([
      { id: 'f1', command: 'deploy', holder: 'ana@ci', commit: 'c', at: '2026-01-01T00:00:01Z', outcomes: { w1: 'success', w2: 'success' } },
      { id: 'f2', command: 'deploy', holder: 'ana@ci', commit: 'c', at: '2026-01-02T00:00:00Z', outcomes: { w1: 'reverted' } },
    ]);
  });
  it('blue-green needs every host in exactly one group', () => {
    expect(() => parseFleetConfig((key) => ({ FLEET_HOSTS: 'a b c', FLEET_STRATEGY: 'blue-green', FLEET_GROUP_A: 'a', FLEET_GROUP_B: 'b', FLEET_SWITCH_CMD: 'x' })[key], '/e')).toThrow(/c is in FLEET_HOSTS but in neither/);
  });
});

describe("the controller's output", () => {
  const capture = (json: boolean) => {
    const lines = { out: [] as string[], err: [] as string[] };
    const stream = (into: string[]) => new Writable({ write(chunk, _encoding, done) {
      into.push(...String(chunk).split('\n').filter(Boolean));
      done();
    } });
    return { lines, out: createOutput({ json, stdout: stream(lines.out), stderr: stream(lines.err) }) };
  };

  it('hides the secrets of the redactor it is handed and any URL password in every kind of line, text and --json; a check line is an output event', () => {
    const say = (out: FleetOutput) => {
      out.redactWith(redactorFor({ secrets: ['tok-fleet-units-1234'] }));
      out.info('info tok-fleet-units-1234', 'web1');
      out.warn('warn tok-fleet-units-1234');
      out.output('check', 'GET https://monitor:pw-units-99@front/health tok-fleet-units-1234');
      out.error('error tok-fleet-units-1234', ['detail tok-fleet-units-1234']);
      out.success('success tok-fleet-units-1234');
      out.hostEvent('web1', { event: 'output', step: 'build', line: 'host tok-fleet-units-1234' });
      out.document({ reason: 'history tok-fleet-units-1234' });
    };
    for (const json of [false, true]) {
      const { lines, out } = capture(json);
      say(out);
      const all = [...lines.out, ...lines.err].join('\n');
      expect(all).not.toMatch(/tok-fleet-units-1234|pw-units-99/);
      expect(all.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(9);
      if (json) {
        const events = lines.out.filter((line) => line.startsWith('{"at"')).map((line) => JSON.parse(line));
        expect(events.find((event) => event.event === 'output' && event.step === 'check')?.line).toBe('GET https://[REDACTED]@front/health [REDACTED]');
      } else expect(lines.out).toContain('  check │ GET https://[REDACTED]@front/health [REDACTED]');
    }
  });
});

describe('the lease order', () => {
  it('is by name, whatever the order of FLEET_HOSTS, so every controller takes the same host first', () => {
    const hosts = parseHosts('web3 ssh://root@10.0.0.2:22 web1 deploy@web2');
    expect(leaseOrder(hosts).map((host) => host.name)).toEqual(['deploy@web2', 'ssh://root@10.0.0.2:22', 'web1', 'web3']);
    expect(leaseOrder([...hosts].reverse())).toEqual(leaseOrder(hosts));
  });
});

describe('giving the leases back', () => {
  it('names each host whose lease could not be given back, and when it expires', async () => {
    const lines: string[] = [];
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
    const stderr = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const out = createOutput({ json: false, stdout: discard, stderr });
    const hosts = parseHosts('web1 web2 web3');
    // The one stand-in here is the ssh transport's answer: web2 unreachable, web3 refusing.
    const answers: Record<string, { exitCode: number; reached: boolean; tail: string[] }> = {
      web1: { exitCode: 0, reached: true, tail: [] },
      web2: { exitCode: 255, reached: false, tail: [] },
      web3: { exitCode: 1, reached: true, tail: ['error: the lease is held by another fleet command'] },
    };
    const answer = async (host: { name: string }) => {
      const { exitCode, reached, tail } = answers[host.name];
      const tracker = trackEvents();
      for (const line of tail) tracker.take(line);
      return { exitCode, stdout: '', tracker, reached };
    };
    // The release goes through each host's session (ask); a command without one would use query.
    const remote = { query: answer, ask: answer } as unknown as Remote;
    await releaseLeases({ config: {} as FleetConfig, remote, out, user: 'ops', env: {} }, hosts, 'L1');
    expect(lines).toEqual([
      'warning: web2 │ its fleet lease L1 could not be given back (the host could not be reached): it expires by itself within 120 s, and the next fleet command waits for it or takes it over from this machine',
      'warning: web3 │ its fleet lease L1 could not be given back (error: the lease is held by another fleet command): it expires by itself within 120 s, and the next fleet command waits for it or takes it over from this machine',
    ]);
  });
});

describe('FLEET_PARALLEL', () => {
  it('is a number of connections, 10 by default; anything else is named', () => {
    expect(parseFleetConfig((key) => ({ FLEET_HOSTS: 'a b' })[key], '/e').parallel).toBe(10);
    expect(parseFleetConfig((key) => ({ FLEET_HOSTS: 'a b', FLEET_PARALLEL: '2' })[key], '/e').parallel).toBe(2);
    for (const bad of ['0', '-1', '1.5', 'ten', '10000']) {
      expect(() => parseFleetConfig((key) => ({ FLEET_HOSTS: 'a', FLEET_PARALLEL: bad })[key], '/e')).toThrow(/FLEET_PARALLEL must be a number of SSH connections from 1 to 9999/);
    }
  });

  it('the limit runs at most that many at once, the rest in the order they came', async () => {
    const limit = createLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const works = [0, 1, 2, 3, 4].map((index) => limit(async () => {
      started.push(index);
      most = Math.max(most, ++running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return index;
    }));
    while (releases.length < 2) await Promise.resolve();
    expect(started).toEqual([0, 1]);
    for (let released = 0; released < 5; released++) {
      while (releases.length <= released) await new Promise((resolve) => setImmediate(resolve));
      releases[released]();
    }
    expect(await Promise.all(works)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });
});
