import { describe, expect, it } from 'vitest';
import { nextAction, type CanaryRules } from '../../lib/canary/decide.ts';
import { assessHost, reconciledState, type HostFacts } from '../../lib/record/reconcile.ts';
import { initialState, type Canary, type CanaryWindow } from '../../lib/record/state-shape.ts';

const figures = (requests: number, errors = 0) => ({ requests, errors, p50Ms: 3, p99Ms: 9 });
const window = (outcome: CanaryWindow['outcome'], reasons: string[] = []): CanaryWindow => ({ at: 'x', share: 5, outcome, candidate: figures(50), baseline: figures(900), reasons });
const canary = (windows: CanaryWindow[], step = 0): Canary => ({
  slot: 'b', live: 'a', commit: 'c'.repeat(40), steps: [5, 25, 50], step, share: [5, 25, 50][step], startedAt: 'x', stepStartedAt: 'x',
  watcherPid: 42, windows, user: 'ops', deployStartedAt: 'x',
});
const rules: CanaryRules = { failedWindows: 2, inconclusive: 'hold', inconclusiveWindows: 3, autoRollback: true };

describe('what a canary does after a window', () => {
  it('steps up on a pass and promotes after the last step', () => {
    expect(nextAction(canary([window('pass')]), rules)).toEqual({ kind: 'step', step: 1, share: 25 });
    expect(nextAction(canary([window('pass')], 2), rules)).toMatchObject({ kind: 'promote' });
  });

  it('holds on one failed window and rolls back on CANARY_FAILED_WINDOWS in a row, naming the figures', () => {
    expect(nextAction(canary([window('fail', ['slot b: 9 of 50 requests 5xx'])]), rules)).toMatchObject({ kind: 'hold' });
    const twice = nextAction(canary([window('pass'), window('fail'), window('fail', ['slot b: 9 of 50 requests 5xx'])]), rules);
    expect(twice).toEqual({ kind: 'rollback', why: '2 windows in a row failed at 5% of users: slot b: 9 of 50 requests 5xx' });
    expect(nextAction(canary([window('fail'), window('fail')]), { ...rules, autoRollback: false })).toMatchObject({ kind: 'hold', why: expect.stringMatching(/AUTO_ROLLBACK=off/) });
  });

  it('never passes on too few requests: holds, then follows CANARY_INCONCLUSIVE', () => {
    const thin = [window('inconclusive'), window('inconclusive'), window('inconclusive', ['too few'])];
    expect(nextAction(canary(thin.slice(0, 2)), rules)).toMatchObject({ kind: 'hold' });
    expect(nextAction(canary(thin), rules)).toMatchObject({ kind: 'hold', why: expect.stringMatching(/CANARY_INCONCLUSIVE=hold/) });
    expect(nextAction(canary(thin), { ...rules, inconclusive: 'promote' })).toMatchObject({ kind: 'promote' });
    expect(nextAction(canary(thin), { ...rules, inconclusive: 'rollback' })).toMatchObject({ kind: 'rollback' });
  });
});

describe('recovering a canary', () => {
  const state = () => {
    const value = initialState('shop', { a: 3001, b: 3002 });
    value.live = 'a';
    value.next_deploy = 'b';
    value.slots.a = { ...value.slots.a, commit: 'a'.repeat(40), pid: 100 };
    value.slots.b = { ...value.slots.b, commit: 'b'.repeat(40), pid: 200 };
    value.canary = canary([]);
    return value;
  };
  const facts = (watcherAlive: boolean): HostFacts => ({
    slots: { a: { runningPid: 100, healthy: true }, b: { runningPid: 200, healthy: true } },
    switchSlot: 'a',
    canaryWatcherAlive: watcherAlive,
    canaryFiles: { slot: 'b', share: 5 },
  });

  it('keeps a watched canary and its slot as they are', () => {
    expect(assessHost(state(), facts(true))).toEqual({ live: 'a', findings: [], stop: [], reswitch: false, endCanary: false });
  });

  it('ends a canary whose watcher is gone: its files go, its slot stops, the live slot stays', () => {
    const assessment = assessHost(state(), facts(false));
    expect(assessment).toMatchObject({ live: 'a', stop: ['b'], endCanary: true });
    expect(assessment.findings[0]).toMatch(/the canary of slot b \(5% of users\) lost its watcher \(pid 42\): it ends now, everyone goes to slot a/);
    expect(reconciledState(state(), facts(false), assessment)).toMatchObject({ live: 'a', canary: null, slots: { b: { pid: null } } });
  });

  it('removes canary files no canary is recorded for', () => {
    const assessment = assessHost({ ...state(), canary: null }, facts(false));
    expect(assessment).toMatchObject({ endCanary: true, stop: ['b'] });
    expect(assessment.findings[0]).toMatch(/canary files send 5% of users to slot b but no canary is recorded/);
  });
});
