import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The pure part of templates/ansible: the role's filters, which read what the host side prints and say
 * how a run ended in ./deploy.ts fleet's words. Called through python3 (Ansible's own language) with
 * the registered results Ansible would hand them.
 */
const FILTERS = fileURLToPath(new URL('../../templates/ansible/roles/switchyard/filter_plugins', import.meta.url));

const PROGRAM = `
import json, sys
sys.path.insert(0, sys.argv[1])
import switchyard
print(json.dumps([getattr(switchyard, name)(*args) for name, *args in json.loads(sys.stdin.read())]))
`;

/** Each call's result, from one python3 (a start costs a tenth of a second or more). */
function filters(calls: [string, ...unknown[]][]): any[] {
  if (spawnSync('sh', ['-c', 'command -v python3']).status !== 0) throw new Error('the Ansible filters need python3: apt-get install ansible (.ci/run does it)');
  return JSON.parse(execFileSync('python3', ['-c', PROGRAM, FILTERS], { input: JSON.stringify(calls), encoding: 'utf8' }));
}

const probe = (said: unknown, rc = 0) => ({ rc, stdout: JSON.stringify(said), stderr: '' });
const lease = { id: '20261206T020000-abcdef', command: 'deploy', holder: 'ops@laptop', expiresAt: '2026-12-06T02:02:00.000Z' };

describe('the Ansible role reads the host side', () => {
  it('a probe: taken, held by another fleet command, a deploy running, a revision that does not resolve, not Switchyard, not reached; the lease taken or not', () => {
    const ok = { version: '1.0.0', commit: 'a'.repeat(40), taken: { taken: true }, lock: null, resolved: { commit: 'b'.repeat(40) } };
    expect(filters([
      ['probe_problem', probe(ok), true],
      ['probe_json', probe(ok)],
      ['probe_problem', probe({ ...ok, taken: { taken: false, holder: lease } }), false],
      ['probe_problem', probe({ ...ok, lock: { command: 'deploy', pid: 42, user: 'app', startedAt: 'then' } }), false],
      ['probe_problem', probe({ ...ok, resolved: { problem: 'no such revision nope' } }), true],
      ['probe_problem', { rc: 127, stdout: '', stderr: 'sh: 1: deploy.ts: not found' }, false],
      ['probe_problem', { unreachable: true, msg: 'ssh: connect to host web3 port 22: Connection refused' }, false],
      ['probe_problem', { skipped: true }, false],
      ['lease_taken', probe(ok)],
      ['lease_taken', probe({ ...ok, taken: { taken: false, holder: lease } })],
      ['lease_taken', { unreachable: true, msg: 'refused' }],
    ])).toEqual([
      '',
      ok,
      'is held by a running fleet deploy 20261206T020000-abcdef by ops@laptop (lease expires 2026-12-06T02:02:00.000Z)',
      'a deploy is running there (pid 42, user app, started then); wait for it to finish',
      'could not resolve the revision: no such revision nope; check the commit, tag or branch name',
      'did not answer as Switchyard does (exit 127): sh: 1: deploy.ts: not found; check switchyard_command',
      'cannot be reached: ssh: connect to host web3 port 22: Connection refused; check that ansible can log in there without a prompt',
      '',
      true,
      false,
      false,
    ]);
  });

  it('a preflight that fails names each host and says nothing changed', () => {
    expect(filters([
      ['preflight_line', [{ host: 'web1', value: 'is held by a running fleet deploy X' }], 3],
      ['preflight_line', [{ host: 'web3', value: 'cannot be reached: refused' }], 3],
    ])).toEqual([
      'another fleet command holds the fleet: web1 is held by a running fleet deploy X; nothing was changed on any host; '
        + 'wait for it to finish (its lease expires if its controller died), then run this again',
      'preflight failed on 1 of 3 host(s): web3 cannot be reached: refused; nothing was changed on any host; fix what each names, then run this again',
    ]);
  });

  it('a failed host deploy: its failed step and error from the --json events; a success or a skipped host is no failure, and only a success switched', () => {
    const events = [
      { event: 'step', step: 'build', ok: true, ms: 10 },
      { event: 'step', step: 'health', ok: false, ms: 20000, detail: 'HTTP 500' },
      { event: 'error', message: 'deploy failed: slot b failed its health check', details: [] },
    ];
    expect(filters([
      ['deploy_failure', { rc: 1, stdout: events.map((event) => JSON.stringify(event)).join('\n'), stderr: '' }],
      ['deploy_failure', { rc: 0, stdout: '' }],
      ['deploy_failure', { skipped: true }],
      ['deploy_failure', { unreachable: true, msg: 'timed out' }],
      ['deploy_switched', { rc: 0, stdout: '' }],
      ['deploy_switched', { rc: 1, stdout: '' }],
      ['deploy_switched', { skipped: true }],
    ])).toEqual([
      { step: 'health', message: 'deploy failed: slot b failed its health check', tail: ['ok build', 'FAILED health HTTP 500', 'deploy failed: slot b failed its health check'] },
      {},
      {},
      { step: 'ssh', message: 'the connection failed: timed out', tail: [] },
      true,
      false,
      false,
    ]);
  });

  it('the outcome and the one line, as ./deploy.ts fleet words them: revert, a revert impossible, halt, success', () => {
    const sha = 'c'.repeat(40);
    const failed = { step: 'health', message: 'sick', tail: [] };
    // As Ansible registers them: web1 switched, web2 failed its deploy, web3's batch never started.
    const hostvars = {
      web1: { switchyard_commit: sha, switchyard_before: 'a', switchyard_deploy: { rc: 0 }, switchyard_revert: { rc: 0 } },
      web2: { switchyard_commit: sha, switchyard_before: 'a', switchyard_deploy: { rc: 1 }, switchyard_failed: failed },
      web3: { switchyard_commit: sha, switchyard_before: 'a', switchyard_deploy: { skipped: true } },
    };
    const hosts = ['web1', 'web2', 'web3'];
    const firstDeploy = { ...hostvars, web1: { ...hostvars.web1, switchyard_before: null, switchyard_revert: { skipped: true } } };
    const everyHostSwitched = { switchyard_commit: sha, switchyard_before: 'a', switchyard_deploy: { rc: 0 } };
    const done = Object.fromEntries(hosts.map((host) => [host, everyHostSwitched]));
    const [reverted, halted, impossible, success] = filters([
      ['summary', hosts, hostvars, 'revert'],
      ['summary', hosts, hostvars, 'halt'],
      ['summary', hosts, firstDeploy, 'revert'],
      ['summary', hosts, done, 'revert'],
    ]);
    expect(reverted).toEqual({
      outcome: 'reverted',
      line: 'fleet deploy ccccccc failed on web2 at its health step: sick; reverted web1 to the release each served before; not touched: web3',
    });
    expect(halted).toMatchObject({
      outcome: 'halted',
      line: 'fleet deploy ccccccc failed on web2 at its health step: sick; switchyard_on_failure=halt: web1 left on ccccccc, the rest on their release: '
        + 'the fleet serves two versions; not touched: web3',
    });
    expect(impossible).toMatchObject({
      outcome: 'halted',
      line: 'fleet deploy ccccccc failed on web2 at its health step: sick; '
        + 'COULD NOT revert web1 (it served nothing before this run: nothing to go back to); not touched: web3',
    });
    expect(success).toEqual({ outcome: 'success', line: 'fleet deploy ccccccc done on 3 host(s): web1, web2, web3' });
  });
});
