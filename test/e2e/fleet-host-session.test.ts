import { describe, expect, it } from 'vitest';
import { openHostSession } from '../../lib/fleet/host-session.ts';

/**
 * The controller's end of a host session, against small real programs standing in for ssh: what a
 * rollout reads when the session answers, refuses, dies mid-command or says nothing.
 */
const env = { PATH: process.env.PATH };
const sh = (script: string) => ['sh', '-c', script];
const step = (name: string, ok: boolean) => JSON.stringify({ event: 'step', step: name, ok });

describe('a host session, from the controller', () => {
  it('hands over the events of a run, then its exit code; answers follow one another', async () => {
    const session = await openHostSession(sh(`read a; echo '${step('build', true)}'; echo '{"session":"done","exitCode":0}'; `
      + `read b; echo '{"session":"done","exitCode":0,"answer":{"released":true}}'`), env);
    const events: string[] = [];
    const run = await session.ask({ op: 'run', argv: ['deploy', '--json'], env: {} }, { onEvent: (event) => events.push(String(event.step)) });
    expect(run).toMatchObject({ exitCode: 0, ended: true });
    expect(events).toEqual(['build']);
    const release = await session.ask({ op: 'release', id: 'f1' });
    expect(release).toMatchObject({ exitCode: 0, ended: true, json: { released: true } });
    expect(await session.exited).toEqual({ exitCode: 0 });
    expect(session.dead()).toBe(true);
  });

  it('a session that dies mid-command: its exit code (255, the connection) and the step it was at; every later request says so', async () => {
    const session = await openHostSession(sh(`read a; echo '${step('fetch', true)}'; echo '${step('build', false)}'; echo 'Connection to web1 closed by remote host.' >&2; exit 255`), env);
    const run = await session.ask({ op: 'run', argv: ['deploy', '--json'], env: {} });
    expect(run.exitCode).toBe(255);
    expect(run.ended).toBe(false);
    expect(run.tracker.failedStep()).toBe('build');
    expect(run.tracker.tail(1)).toEqual(['Connection to web1 closed by remote host.']);
    const after = await session.ask({ op: 'probe' });
    expect(after).toMatchObject({ exitCode: 255, ended: false });
  });

  it("a refused request is exit code 2 with the session's reason; a silent one is ended at its bound as an unreachable host is", async () => {
    const session = await openHostSession(sh(`read a; echo '{"session":"error","error":"unknown op \\"x\\""}'; sleep 30`), env);
    const refused = await session.ask({ op: 'probe' });
    expect(refused).toMatchObject({ exitCode: 2, ended: true });
    expect(refused.tracker.tail(1)).toEqual(['unknown op "x"']);
    const silent = await session.ask({ op: 'probe' }, { timeoutMs: 300 });
    expect(silent.exitCode).toBe(255);
    expect(silent.tracker.tail(2).join(' ')).toContain('no answer within 300 ms');
  });

  it('ssh that cannot start is a failed connection', async () => {
    const session = await openHostSession(['/nonexistent/ssh'], env);
    const answer = await session.ask({ op: 'probe' });
    expect(answer.exitCode).toBe(255);
    expect(answer.tracker.tail(1).join(' ')).toMatch(/could not run|ENOENT/);
  });
});
