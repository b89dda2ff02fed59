import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_WITHOUT_NPM, createDeployedTestHost, type TestHost } from '../../harness/host.ts';

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

  it('a deploy made with the clock behind the kept logs keeps its own log (pruning never drops the running one)', async () => {
    // 50 kept logs from "the future": as after the clock was set back (their names and mtimes are later than now).
    const dir = path.join(host.deployRoot, 'deploys');
    mkdirSync(dir, { recursive: true });
    const future = new Date('2030-01-01T00:00:00Z');
    for (let index = 0; index < 50; index++) {
      const file = path.join(dir, `20300101-0000${String(index).padStart(2, '0')}-${1000 + index}.log`);
      writeFileSync(file, `# an old deploy ${index}\n`, { mode: 0o600 });
      utimesSync(file, future, new Date(future.getTime() + index * 1000));
    }
    host.example.commit('v2');
    const deployed = await host.run(['deploy']);
    expect(deployed.exitCode, deployed.output).toBe(0);
    const id = host.state().history.at(-1).log;
    expect(readdirSync(dir)).toContain(`${id}.log`);
    expect(readdirSync(dir).filter((name) => name.endsWith('.log'))).toHaveLength(50);
    const shown = await host.run(['history', '--show', id]);
    expect(shown.exitCode, shown.output).toBe(0);
    expect(shown.stdout).toMatch(/✔ deployed/);
  }, 120_000);

  it('a rollback target whose release folder was deleted by hand is not listed as one, and rollback says so', async () => {
    const state = host.state();
    const live = state.slots[state.live].commit;
    const previous = Object.keys(state.releases).find((commit) => commit !== live)!;
    const before = await host.run(['releases']);
    expect(before.stdout).toMatch(new RegExp(`^${previous.slice(0, 7)} .*rollback target`, 'm'));
    rmSync(path.join(host.deployRoot, 'releases', previous), { recursive: true, force: true });
    const listed = await host.run(['releases']);
    expect(listed.exitCode, listed.output).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${previous.slice(0, 7)} .*MISSING folder`, 'm'));
    expect(listed.stdout).not.toMatch(/rollback target/);
    const rolled = await host.run(['rollback']);
    expect(rolled.exitCode, rolled.output).toBe(1);
    expect(rolled.stderr).toContain('cannot roll back: no earlier good release is kept');
    expect((await host.get('/')).json.version).toBe('v2');
  }, 120_000);

  it('a build that prints 20 MB leaves a deploy log of a few MB: its first and last lines, a marker, and how the deploy ended', async () => {
    host.example.commit('v3');
    const noisy = `node -e "for (let i = 0; i < 200000; i++) console.log('build line ' + i + ' ' + 'x'.repeat(90))" && node build.js`;
    const deployed = await host.run(['deploy'], { BUILD_CMD: noisy });
    expect(deployed.exitCode, deployed.output.slice(-2000)).toBe(0);
    const id = host.state().history.at(-1).log;
    const file = path.join(host.deployRoot, 'deploys', `${id}.log`);
    expect(statSync(file).size).toBeLessThan(4 * 1024 * 1024);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('build line 0 ');
    expect(text).toContain('build line 199999 ');
    expect(text).toMatch(/^\[switchyard: \d+ bytes of output left out here/m);
    expect(text).toMatch(/✔ deployed/);
  }, 180_000);
});
