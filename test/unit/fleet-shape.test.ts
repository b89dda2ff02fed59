import { describe, expect, it } from 'vitest';
import { failureBudget, parseBatchSize, parseFailPercent, planBatches } from '../../lib/fleet/batches.ts';
import { parseFleetConfig } from '../../lib/fleet/config.ts';
import { drainEnv } from '../../lib/fleet/drain.ts';
import { parseHosts } from '../../lib/fleet/hosts.ts';
import { rollout, type HostResult } from '../../lib/fleet/rollout.ts';
import { shapeLine } from '../../lib/fleet/rolling.ts';

/** The rollout's shape: the canary first batch, FLEET_PAUSE's verdicts, FLEET_MAX_FAIL's budget. Pure. */

const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'];
const parse = (values: Record<string, string>) => parseFleetConfig((key) => values[key], '/etc/fleet.env');

describe('the batches', () => {
  it('a canary first batch, then FLEET_BATCH, whose N% stays a share of the whole fleet', () => {
    expect(planBatches(hosts, parseBatchSize('1')!, 1)).toEqual([['h1'], ['h2'], ['h3'], ['h4'], ['h5'], ['h6'], ['h7']]);
    expect(planBatches(hosts, parseBatchSize('3')!, 1)).toEqual([['h1'], ['h2', 'h3', 'h4'], ['h5', 'h6', 'h7']]);
    expect(planBatches(hosts, parseBatchSize('50%')!, 2)).toEqual([['h1', 'h2'], ['h3', 'h4', 'h5', 'h6'], ['h7']]);
    expect(planBatches(hosts, parseBatchSize('100%')!, 1)).toEqual([['h1'], ['h2', 'h3', 'h4', 'h5', 'h6', 'h7']]);
    expect(planBatches(hosts, parseBatchSize('100%')!, 0)).toEqual([hosts]);
    expect(planBatches(hosts, parseBatchSize('2')!, 9)).toEqual([hosts]);
    expect(planBatches(['h1'], parseBatchSize('1')!, 1)).toEqual([['h1']]);
  });
  it('FLEET_MAX_FAIL: more than P% of the fleet failed stops it, as Ansible counts', () => {
    expect([0, 9, 10, 14, 15, 100].map((percent) => failureBudget(20, percent))).toEqual([0, 1, 2, 2, 3, 20]);
    expect(failureBudget(3, 34)).toBe(1);
    expect(failureBudget(3, 33)).toBe(0);
    expect(['0', '10', '10%', ' 25 % ', '100'].map(parseFailPercent)).toEqual([0, 10, 10, 25, 100]);
    expect(['101', '-1', '1.5', 'ten', ''].map(parseFailPercent)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
  it('the keys: defaults a canary of 1, no pause, no failure allowed; bad values named at once', () => {
    expect(parse({ FLEET_HOSTS: 'a b' })).toMatchObject({ canaryHosts: 1, pauseMs: 0, maxFailPercent: 0 });
    expect(parse({ FLEET_HOSTS: 'a b', FLEET_CANARY_HOSTS: '0', FLEET_PAUSE: '2m', FLEET_MAX_FAIL: '25%' })).toMatchObject({ canaryHosts: 0, pauseMs: 120_000, maxFailPercent: 25 });
    expect(() => parse({ FLEET_HOSTS: 'a', FLEET_CANARY_HOSTS: 'one', FLEET_PAUSE: 'soon', FLEET_MAX_FAIL: '200' }))
      .toThrow(/FLEET_CANARY_HOSTS must be a number.*FLEET_PAUSE must be a duration.*FLEET_MAX_FAIL must be a percentage/);
    expect(() => parse({ FLEET_HOSTS: 'a', FLEET_PAUSE: '2h' })).toThrow(/FLEET_PAUSE must be a duration up to 1h/);
  });
  it('the first line says the shape, naming a canary only when it differs from a batch', () => {
    expect(shapeLine(parse({ FLEET_HOSTS: 'a b c' }))).toBe('batches of 1');
    expect(shapeLine(parse({ FLEET_HOSTS: 'a b c', FLEET_BATCH: '100%', FLEET_PAUSE: '30s', FLEET_MAX_FAIL: '34' })))
      .toBe('a first batch of 1 (FLEET_CANARY_HOSTS), batches of 100%, FLEET_PAUSE 30s between them, up to 34% of the hosts may fail (FLEET_MAX_FAIL)');
  });
});

describe('the rollout with a pause and a failure budget', () => {
  const ok: HostResult = { ok: true, switched: true };
  const sick = (step: string): HostResult => ({ ok: false, switched: false, step, message: `${step} failed` });
  const run = async (options: { failing?: Record<string, HostResult>; rolledBack?: string[]; maxFailures?: number; onFailure?: 'revert' | 'halt' }) => {
    const calls: string[] = [];
    const result = await rollout([['h1'], ['h2', 'h3'], ['h4']], {
      change: async (host) => (calls.push(`change ${host}`), options.failing?.[host] ?? ok),
      revert: async (host) => (calls.push(`revert ${host}`), ok),
      pause: async (batch) => (calls.push(`pause ${batch.join(',')}`), batch.map((host) => (options.rolledBack?.includes(host) ? sick('bake') : ok))),
    }, options.onFailure ?? 'revert', options.maxFailures ?? 0);
    return { result, calls };
  };

  it('pauses after each batch but the last, with the hosts that passed', async () => {
    const { result, calls } = await run({});
    expect(result).toMatchObject({ ok: true, changed: ['h1', 'h2', 'h3', 'h4'], tolerated: [] });
    expect(calls).toEqual(['change h1', 'pause h1', 'change h2', 'change h3', 'pause h2,h3', 'change h4']);
  });
  it('a host that rolled itself back during the pause fails the rollout; it is not reverted again, the others are', async () => {
    const { result, calls } = await run({ rolledBack: ['h3'] });
    expect(result).toMatchObject({ ok: false, failure: { host: 'h3', step: 'bake' }, reverted: ['h1', 'h2'], untouched: ['h4'] });
    expect(calls.slice(-2)).toEqual(['revert h1', 'revert h2']);
  });
  it('FLEET_MAX_FAIL: failed hosts within the budget are passed by, one more stops it', async () => {
    const within = await run({ failing: { h2: sick('health') }, maxFailures: 1 });
    expect(within.result).toMatchObject({ ok: true, changed: ['h1', 'h3', 'h4'], tolerated: [{ host: 'h2', result: { step: 'health' } }] });
    expect(within.calls).toEqual(['change h1', 'pause h1', 'change h2', 'change h3', 'pause h3', 'change h4']);
    const over = await run({ failing: { h2: sick('health') }, rolledBack: ['h3'], maxFailures: 1, onFailure: 'halt' });
    expect(over.result).toMatchObject({ ok: false, failure: { host: 'h3', step: 'bake' }, changed: ['h1'], untouched: ['h4'], tolerated: [{ host: 'h2' }] });
  });
});

describe('FLEET_DRAIN_CMD around each batch', () => {
  it('tells the command the hosts and their places in FLEET_HOSTS (h1, h2 ... in haproxy-rolling.cfg)', () => {
    const fleet = parseHosts('web1 web2 web3');
    expect(drainEnv('drain', [fleet[1], fleet[2]], fleet)).toEqual({ SWITCHYARD_DRAIN: 'drain', SWITCHYARD_HOSTS: 'web2 web3', SWITCHYARD_HOST_NUMBERS: '2 3' });
  });
  it('drains before the changes and readies after them, before the check; a failed drain stops before the batch', async () => {
    const ok: HostResult = { ok: true, switched: true };
    const run = async (drainFails: boolean) => {
      const calls: string[] = [];
      const result = await rollout([['h1'], ['h2']], {
        change: async (host) => (calls.push(`change ${host}`), ok),
        revert: async (host) => (calls.push(`revert ${host}`), ok),
        check: async (batch) => (calls.push(`check ${batch.join(',')}`), ok),
        drain: async (batch, state) => {
          calls.push(`${state} ${batch.join(',')}`);
          return drainFails && batch[0] === 'h2' && state === 'drain' ? { ok: false, switched: false, message: 'no socket' } : { ok: true, switched: false };
        },
      }, 'revert');
      return { result, calls };
    };
    expect((await run(false)).calls).toEqual(['drain h1', 'change h1', 'ready h1', 'check h1', 'drain h2', 'change h2', 'ready h2', 'check h2']);
    const failed = await run(true);
    expect(failed.result).toMatchObject({ ok: false, failure: { step: 'drain', message: 'no socket' }, reverted: ['h1'], untouched: ['h2'] });
    expect(failed.calls).toEqual(['drain h1', 'change h1', 'ready h1', 'check h1', 'drain h2', 'revert h1']);
  });
});
