import { describe, expect, it } from 'vitest';
import { assessHost, reconciledState, type HostFacts } from '../../lib/record/reconcile.ts';
import { initialState } from '../../lib/record/state-shape.ts';

function state() {
  const value = initialState('shop', { a: 3001, b: 3002 });
  value.live = 'a';
  value.next_deploy = 'b';
  value.slots.a = { ...value.slots.a, commit: 'a'.repeat(40), pid: 100, startedAt: '2026-01-01T00:00:00Z' };
  value.slots.b = { ...value.slots.b, commit: 'b'.repeat(40) };
  return value;
}
const facts = (overrides: Partial<HostFacts['slots']> = {}, switchSlot: HostFacts['switchSlot'] = 'a'): HostFacts => ({
  slots: { a: { runningPid: 100, healthy: true }, b: { runningPid: undefined, healthy: false }, ...overrides },
  switchSlot,
});

describe('reconciling state with the host', () => {
  it('finds nothing when they agree', () => {
    expect(assessHost(state(), facts())).toEqual({ live: 'a', findings: [], stop: [], reswitch: false, endCanary: false });
  });

  it('killed after the reload: nginx points at the new healthy slot, which becomes live; the old one is stopped', () => {
    const current = { ...state(), journal: { command: 'deploy' as const, pid: 9, slot: 'b' as const, phase: 'drain', startedAt: 'x' } };
    const result = assessHost(current, facts({ b: { runningPid: 200, healthy: true } }, 'b'));
    expect(result.live).toBe('b');
    expect(result.stop).toEqual(['a']);
    expect(result.reswitch).toBe(true);
    expect(result.findings.join('\n')).toMatch(/stopped during its "drain" phase/);
    expect(result.findings.join('\n')).toMatch(/nginx sends traffic to slot b but the state says slot a is live/);
    const next = reconciledState(current, facts({ b: { runningPid: 200, healthy: true } }, 'b'), result);
    expect(next.live).toBe('b');
    expect(next.next_deploy).toBe('a');
    expect(next.slots.a.pid).toBeNull();
    expect(next.slots.b.pid).toBe(200);
    expect(next.journal).toBeNull();
  });

  it('killed after the new slot started but before the switch: the old slot stays live, the new one is stopped', () => {
    const result = assessHost(state(), facts({ b: { runningPid: 200, healthy: true } }, 'a'));
    expect(result.live).toBe('a');
    expect(result.stop).toEqual(['b']);
    expect(result.findings).toContain('slot b: pid 200 is running but the state does not record it');
  });

  it('a rollback in the bake window keeps the recorded live slot while it runs, even failing a probe (issue 23 item 2)', () => {
    // Slot b went live, slot a is the warm one of the window; b fails its probe as the rollback starts.
    const current = { ...state(), live: 'b' as const, next_deploy: 'a' as const, bake: { previous: 'a' as const, live: 'b' as const, endsAt: 'x', watcherPid: 7, autoRollback: false } };
    current.slots.b = { ...current.slots.b, pid: 200 };
    const host = { ...facts({ a: { runningPid: 100, healthy: true }, b: { runningPid: 200, healthy: false } }, 'b'), bakeWatcherAlive: true };
    // Without the option (any other command) the warm healthy slot is taken for live.
    expect(assessHost(current, host).live).toBe('a');
    const kept = assessHost(current, host, { keepRecordedLive: true });
    expect(kept).toMatchObject({ live: 'b', stop: [], reswitch: false });
    expect(kept.findings).toContain('slot b stays recorded as live for this rollback, which moves traffic off it');
    expect(reconciledState(current, host, kept).bake).toMatchObject({ previous: 'a', live: 'b' });
    // A recorded live slot whose process is gone is not kept.
    expect(assessHost(current, { ...host, slots: { ...host.slots, b: { runningPid: undefined, healthy: false } } }, { keepRecordedLive: true }).live).toBe('a');
  });

  it('reports a recorded pid that is dead and a site that is down', () => {
    const result = assessHost(state(), facts({ a: { runningPid: undefined, healthy: false } }));
    expect(result.findings).toContain('slot a: recorded pid 100 is not running');
    expect(result.findings).toContain('no slot is healthy: the site is down');
  });

  it('an upstream that points at neither slot (PORT_A changed since) is applied again to the live slot', () => {
    const result = assessHost(state(), facts({}, null));
    expect(result.live).toBe('a');
    expect(result.reswitch).toBe(true);
    expect(result.findings.join('\n')).toMatch(/nginx sends traffic to neither slot's address but the state says slot a is live/);
  });
});
