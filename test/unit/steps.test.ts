import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { planCycle } from '../../lib/cycle/plan.ts';
import { stepsFor, type CycleFacts } from '../../lib/cycle/step-table.ts';

const config = (values: Record<string, string> = {}) =>
  resolveConfig({ fileValues: { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop', ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });
const deploy: CycleFacts = { command: 'deploy', target: 'b', previous: 'a', commit: null, reuse: false, warm: false, recovers: true };
const names = (facts: CycleFacts, values: Record<string, string> = {}) => stepsFor(facts, config(values)).map((step) => step.name);

describe('the step table', () => {
  it('a deploy of a new commit: every step, the bake window instead of the drain by default', () => {
    expect(names(deploy)).toEqual(['lock', 'recover', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'bake', 'record']);
    expect(names(deploy, { BAKE_TIME: '0' })).toEqual(['lock', 'recover', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']);
  });

  it('no bake window where the switch does not take all traffic off the old slot (passive, none)', () => {
    expect(names(deploy, { SWITCH: 'passive' })).toContain('drain');
    expect(names(deploy, { SWITCH: 'passive' })).not.toContain('bake');
    expect(names(deploy, { SWITCH: 'none' })).not.toContain('bake');
  });

  it('a kept release skips checkout, install and build; a rollback into the bake window starts nothing', () => {
    expect(names({ ...deploy, reuse: true })).toEqual(['lock', 'recover', 'fetch', 'start', 'health', 'switch', 'bake', 'record']);
    expect(names({ ...deploy, command: 'rollback', reuse: true, warm: true })).toEqual(['lock', 'recover', 'switch', 'bake', 'record']);
    expect(names({ ...deploy, command: 'restart', reuse: true })).toEqual(['lock', 'recover', 'start', 'health', 'switch', 'drain', 'record']);
    expect(names({ ...deploy, previous: null })).not.toContain('drain');
  });

  it('recover only where the state and the host disagree', () => {
    expect(names({ ...deploy, recovers: false })).toEqual(['lock', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'bake', 'record']);
  });

  it('the dry-run prints the same table, with the hooks between the steps', () => {
    const plan = planCycle(config({ BAKE_TIME: '0' }), deploy, ['begin', 'pre_install', 'pre_stop', 'end']);
    expect(plan.steps.map((step) => step.name)).toEqual(['lock', 'recover', 'hook begin', 'fetch', 'checkout', 'hook pre_install', 'install', 'build', 'start', 'health', 'switch', 'drain', 'hook pre_stop', 'record', 'hook end']);
  });
});
