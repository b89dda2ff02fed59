import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../harness/host.ts';

/** What Switchyard tells an operator in the cases the real-app trial met (issue #23, item 8), on a real host behind nginx. */
describe('advice when the live slot is down', () => {
  let host: TestHost;

  beforeAll(async () => {
    host = await createDeployedTestHost({ switchKind: 'nginx-live-file', env: APP_WITHOUT_NPM });
  }, 120_000);
  afterAll(async () => host?.cleanUp(), 60_000);

  it('status suggests resume, status --repair does not claim success while the site returns 502, and resume brings it back', async () => {
    const stopped = await host.run(['stop', 'exampleapp-a', '--force']);
    expect(stopped.exitCode, stopped.output).toBe(0);
    expect((await host.get('/')).status).toBe(502);
    const status = await host.run(['status']);
    expect(status.exitCode, status.output).toBe(0);
    expect(status.stderr).toContain('warning: slot a (live) is not running: run ./deploy.ts resume to start it again');
    expect(status.output).not.toMatch(/or run \.\/deploy\.ts status --repair now/);
    const repaired = await host.run(['status', '--repair']);
    expect(repaired.exitCode, repaired.output).toBe(1);
    expect(repaired.output).not.toMatch(/✔ state repaired/);
    expect(repaired.stderr).toMatch(/error: the state was reconciled, but the site is still down: slot a \(live\) is not running: run \.\/deploy\.ts resume/);
    expect((await host.get('/')).status).toBe(502);
    const resumed = await host.run(['resume']);
    expect(resumed.exitCode, resumed.output).toBe(0);
    expect((await host.get('/')).status).toBe(200);
    const again = await host.run(['status', '--repair']);
    expect(again.exitCode, again.output).toBe(0);
    expect(again.stdout).toContain('✔ state repaired: slot a is live');
  }, 120_000);
});
