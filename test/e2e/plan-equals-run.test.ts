import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createTestHost, type TestHost } from '../../harness/host.ts';
import { parseEvents } from '../../lib/cli/events.ts';

/**
 * One step table drives the run and the dry run: for the same host and arguments, the plan events of
 * `--dry-run --json` name exactly the step events the real `--json` run then prints, in order.
 */
describe('the dry run lists the steps the run runs', () => {
  let host: TestHost;
  const commits: Record<string, string> = {};

  beforeAll(async () => {
    host = await createTestHost({ env: APP_WITHOUT_NPM });
    commits.v1 = host.example.head();
  }, 60_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  /** The dry run first (it changes nothing), then the run; both lists of names, and both outputs for a failure to show. */
  type Compared = { planned: string[]; ran: string[]; output: string };
  async function planAndRun(args: string[], env: Record<string, string> = {}): Promise<Compared> {
    const dry = await host.run([...args, '--dry-run', '--json'], env);
    expect(dry.exitCode, dry.output).toBe(0);
    const real = await host.run([...args, '--json'], env);
    expect(real.exitCode, real.output).toBe(0);
    const planned = parseEvents(dry.stdout).flatMap((event) => (event.event === 'plan' ? [event.step] : []));
    const ran = parseEvents(real.stdout).flatMap((event) => (event.event === 'step' ? [event.step] : []));
    return { planned, ran, output: `dry run:\n${dry.output}\nrun:\n${real.output}` };
  }

  it('a first deploy', async () => {
    const { planned, ran, output } = await planAndRun(['deploy']);
    expect(ran).toEqual(['lock', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'record']);
    expect(planned, output).toEqual(ran);
  }, 120_000);

  it('a new release', async () => {
    commits.v2 = host.example.commit('v2');
    const { planned, ran, output } = await planAndRun(['deploy']);
    expect(ran).toEqual(['lock', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']);
    expect(planned, output).toEqual(ran);
  }, 120_000);

  it('a kept release: no checkout, install or build', async () => {
    const { planned, ran, output } = await planAndRun(['deploy', commits.v1]);
    expect(ran).toEqual(['lock', 'fetch', 'start', 'health', 'switch', 'drain', 'record']);
    expect(planned, output).toEqual(ran);
  }, 120_000);

  it('a kept release with --rebuild: built again', async () => {
    const { planned, ran, output } = await planAndRun(['deploy', commits.v2, '--rebuild']);
    expect(ran).toEqual(['lock', 'fetch', 'checkout', 'install', 'build', 'start', 'health', 'switch', 'drain', 'record']);
    expect(planned, output).toEqual(ran);
  }, 120_000);

  it('a rollback', async () => {
    const { planned, ran, output } = await planAndRun(['rollback']);
    expect(ran).toEqual(['lock', 'start', 'health', 'switch', 'drain', 'record']);
    expect(planned, output).toEqual(ran);
  }, 120_000);

  it('a rollback inside the bake window: a switch only', async () => {
    const bake = { BAKE_TIME: '5m' };
    const deployed = await host.run(['deploy', commits.v2], bake);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const { planned, ran, output } = await planAndRun(['rollback'], bake);
    expect(ran).toEqual(['lock', 'switch', 'bake', 'record']);
    expect(planned, output).toEqual(ran);
  }, 120_000);

  it('RELEASE_CMD set: a release step before start, for a new release and a kept one, skipped once it ran for the commit', async () => {
    const release = { RELEASE_CMD: 'echo migrated' };
    commits.v3 = host.example.commit('v3');
    for (const args of [['deploy'], ['deploy', commits.v1], ['deploy', commits.v3]]) {
      const { planned, ran, output } = await planAndRun(args, release);
      expect(planned, output).toEqual(ran);
      expect(ran.slice(ran.indexOf('release') - 1, ran.indexOf('release') + 2)).toEqual([args.length === 1 ? 'build' : 'fetch', 'release', 'start']);
    }
    const skipped = await host.run(['deploy', commits.v1, '--dry-run', '--json'], release);
    const step = parseEvents(skipped.stdout).find((event) => event.event === 'plan' && event.step === 'release');
    expect(step).toMatchObject({ what: expect.stringContaining('skipped: RELEASE_CMD already ran for') });
  }, 300_000);
});
