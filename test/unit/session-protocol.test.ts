import { describe, expect, it } from 'vitest';
import { buildProblem } from '../../lib/fleet/preflight.ts';
import { endLine, parseEnd, parseRequest, SESSION_PROTOCOL } from '../../lib/fleet/session-protocol.ts';

// The fleet session's wire: a request the controller writes, the line that ends each answer.

describe('parseRequest', () => {
  const take = { id: '20261206T053000-abc123', command: 'deploy', holder: 'me@ctl', ttlS: 120, controllerHost: 'ctl', controllerPid: 4242 };
  it('reads each request the controller sends', () => {
    expect(parseRequest('{"op":"probe"}')).toEqual({ op: 'probe' });
    expect(parseRequest(JSON.stringify({ op: 'probe', take, replace: 'old-1', resolve: '' }))).toEqual({ op: 'probe', take, replace: 'old-1', resolve: '' });
    expect(parseRequest(JSON.stringify({ op: 'run', argv: ['deploy', '--json', '--', 'a'.repeat(40)], env: { SWITCHYARD_FLEET_ID: take.id } })))
      .toEqual({ op: 'run', argv: ['deploy', '--json', '--', 'a'.repeat(40)], env: { SWITCHYARD_FLEET_ID: take.id } });
    expect(parseRequest('{"op":"run","argv":["rollback","--json"]}')).toEqual({ op: 'run', argv: ['rollback', '--json'], env: {} });
    expect(parseRequest('{"op":"resolve"}')).toEqual({ op: 'resolve' });
    expect(parseRequest('{"op":"resolve","revision":"v1.2"}')).toEqual({ op: 'resolve', revision: 'v1.2' });
    expect(parseRequest(`{"op":"group","group":"B","id":"${take.id}","commit":null}`)).toEqual({ op: 'group', group: 'B', id: take.id, commit: null });
    const turn = { op: 'turn', take, group: 'A', commit: 'c'.repeat(40), expect: { group: 'B', fleetId: '20261206T040000-def456', commit: 'c'.repeat(40) } };
    expect(parseRequest(JSON.stringify(turn))).toEqual(turn);
    const cold = { ...turn, commit: null, expect: { group: 'B', fleetId: '20261206T040000-def456' } };
    expect(parseRequest(JSON.stringify(cold))).toEqual(cold);
    expect(parseRequest(`{"op":"keep","id":"${take.id}","ttlS":120}`)).toEqual({ op: 'keep', id: take.id, ttlS: 120 });
    const record = { outcome: 'success', command: 'deploy', holder: 'me@ctl', commit: null, reason: 'why' };
    expect(parseRequest(JSON.stringify({ op: 'release', id: take.id, record }))).toEqual({ op: 'release', id: take.id, record });
    expect(parseRequest(JSON.stringify({ op: 'release', id: take.id }))).toEqual({ op: 'release', id: take.id });
  });
  it('refuses what is not one, saying why', () => {
    expect(parseRequest('deploy now')).toEqual({ error: 'not a JSON request: "deploy now"' });
    expect(parseRequest('[1]')).toEqual({ error: 'a request is a JSON object with "op"' });
    expect(parseRequest('{"op":"reboot"}')).toEqual({ error: 'unknown op "reboot" (probe, run, resolve, group, turn, keep or release)' });
    expect(parseRequest('{"op":"resolve","revision":7}')).toEqual({ error: 'resolve: "revision" must be a revision' });
    expect(parseRequest(`{"op":"group","group":"C","id":"${take.id}","commit":null}`)).toMatchObject({ error: expect.stringContaining('group needs') });
    expect(parseRequest('{"op":"group","group":"A","id":"../x","commit":null}')).toMatchObject({ error: expect.stringContaining('group needs') });
    expect(parseRequest('{"op":"run","argv":["exec","--","sh"]}')).toEqual({ error: 'run: "exec" is not a command a session runs (deploy or rollback)' });
    expect(parseRequest('{"op":"run","argv":[]}')).toEqual({ error: 'run needs "argv": the command and its words' });
    expect(parseRequest('{"op":"run","argv":["deploy"],"env":{"a b":"x"}}')).toEqual({ error: 'run: "env" must map variable names to strings' });
    expect(parseRequest(JSON.stringify({ op: 'probe', take: { ...take, id: '../x' } }))).toMatchObject({ error: expect.stringContaining('"take" needs') });
    expect(parseRequest('{"op":"probe","replace":"-x"}')).toEqual({ error: 'probe: "replace" must be a fleet id' });
    const turn = { op: 'turn', take, group: 'A', commit: null, expect: { group: 'B', fleetId: '20261206T040000-def456' } };
    expect(parseRequest(JSON.stringify({ ...turn, take: { ...take, ttlS: 0 } }))).toEqual({ error: 'turn: "take" needs id, command, holder, ttlS, controllerHost and controllerPid' });
    expect(parseRequest(JSON.stringify({ ...turn, group: 'C' }))).toMatchObject({ error: expect.stringContaining('turn needs') });
    expect(parseRequest(JSON.stringify({ ...turn, expect: { group: 'B', fleetId: '../x' } }))).toMatchObject({ error: expect.stringContaining('turn needs') });
    expect(parseRequest('{"op":"keep","id":"f1","ttlS":0}')).toMatchObject({ error: expect.stringContaining('keep needs') });
    expect(parseRequest('{"op":"release","id":"f1","record":{"outcome":"success"}}')).toMatchObject({ error: expect.stringContaining('"record" needs') });
  });
});

describe('parseEnd', () => {
  it('finds the line that ends an answer, and only that one', () => {
    expect(parseEnd(endLine({ session: 'done', exitCode: 1 }))).toEqual({ session: 'done', exitCode: 1 });
    expect(parseEnd(endLine({ session: 'done', exitCode: 0, answer: { released: true } }))).toEqual({ session: 'done', exitCode: 0, answer: { released: true } });
    expect(parseEnd(endLine({ session: 'error', error: 'bad' }))).toEqual({ session: 'error', error: 'bad' });
    expect(parseEnd('{"at":"2026-12-06T05:00:00.000Z","event":"step","step":"build","ok":true}')).toBeUndefined();
    expect(parseEnd('{"session":"done"}')).toBeUndefined();
    expect(parseEnd('{"session": broken')).toBeUndefined();
    expect(parseEnd('warning: something')).toBeUndefined();
  });
});

describe('buildProblem', () => {
  it("passes a host of the controller's version that speaks its protocol; names another version, or another build of it", () => {
    expect(buildProblem({ version: '0.1.0', protocol: SESSION_PROTOCOL }, '0.1.0')).toBeUndefined();
    expect(buildProblem({ version: '0.0.9', protocol: SESSION_PROTOCOL }, '0.1.0'))
      .toBe('runs Switchyard 0.0.9, the controller 0.1.0; install the same version on every host and the controller');
    // A build from before the protocol was numbered answers no number: it has no `turn`.
    expect(buildProblem({ version: '0.1.0' }, '0.1.0'))
      .toBe(`runs another build of Switchyard 0.1.0 (fleet session protocol 1, the controller's ${SESSION_PROTOCOL}); install the same build on every host and the controller`);
  });
});
