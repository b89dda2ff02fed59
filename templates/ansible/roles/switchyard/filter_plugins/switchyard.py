"""What the host side's JSON says, read for the playbook. Pure: each filter takes registered results and returns data.

The words match ./deploy.ts fleet (lib/fleet/rolling.ts, preflight.ts), so an operator reads one language.
"""

import json


def _documents(text):
    """The JSON objects among the lines of a command's stdout (other lines skipped)."""
    found = []
    for line in (text or '').splitlines():
        if line.startswith('{'):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def _last_line(result):
    lines = [line for line in str(result.get('stderr') or result.get('msg') or '').splitlines() if line.strip()]
    return lines[-1].strip() if lines else 'no output'


def probe_json(result):
    """The one document `fleet probe --json` prints, or {} (not run, not reached, not Switchyard)."""
    if not isinstance(result, dict) or result.get('skipped') or result.get('unreachable') or result.get('rc') != 0:
        return {}
    documents = _documents(result.get('stdout'))
    return documents[-1] if documents else {}


def probe_problem(result, resolving=False):
    """What stops a deploy on this host, in one line an operator can act on; '' when nothing does (or it was not asked)."""
    if not isinstance(result, dict) or result.get('skipped'):
        return ''
    if result.get('unreachable'):
        return 'cannot be reached: %s; check that ansible can log in there without a prompt' % _last_line(result)
    said = probe_json(result)
    if not isinstance(said.get('version'), str):
        return 'did not answer as Switchyard does (exit %s): %s; check switchyard_command' % (result.get('rc'), _last_line(result))
    if said.get('problem'):
        return 'its configuration does not load: %s' % said['problem']
    taken = said.get('taken') or {}
    if not taken.get('taken'):
        holder = taken.get('holder') or {}
        return 'is held by a running fleet %s %s by %s (lease expires %s)' % (
            holder.get('command'), holder.get('id'), holder.get('holder'), holder.get('expiresAt'))
    lock = said.get('lock')
    if lock:
        return 'a %s is running there (pid %s, user %s, started %s); wait for it to finish' % (
            lock.get('command'), lock.get('pid'), lock.get('user'), lock.get('startedAt'))
    resolved = said.get('resolved') or {}
    if resolving and not isinstance(resolved.get('commit'), str):
        return 'could not resolve the revision: %s; check the commit, tag or branch name' % resolved.get('problem', 'no answer')
    return ''


def gather(hosts, hostvars, name):
    """[{host, value}] for each host whose fact `name` is set and not empty, in the play's order."""
    found = []
    for host in hosts:
        facts = hostvars[host]
        if name in facts and facts[name]:
            found.append({'host': host, 'value': facts[name]})
    return found


def preflight_line(problems, count):
    """The one line a failed preflight ends with: the hosts, and that nothing changed."""
    held = [problem for problem in problems if str(problem['value']).startswith('is held by')]
    each = '; '.join('%s %s' % (problem['host'], problem['value']) for problem in problems)
    if held:
        return 'another fleet command holds the fleet: %s; nothing was changed on any host; ' \
            'wait for it to finish (its lease expires if its controller died), then run this again' % each
    return 'preflight failed on %d of %d host(s): %s; nothing was changed on any host; fix what each names, then run this again' % (
        len(problems), count, each)


def _event_text(event):
    if event.get('event') == 'output':
        return '%s │ %s' % (event.get('step'), event.get('line'))
    if event.get('event') == 'step':
        return ('%s %s %s' % ('ok' if event.get('ok') else 'FAILED', event.get('step'), event.get('detail') or '')).strip()
    return event.get('message')


def deploy_failure(result, failed=None):
    """{step, message, tail} of a failed host deploy (as lib/fleet/events.ts reads it); {} for one that succeeded or did not run."""
    if isinstance(result, dict) and result.get('unreachable'):
        return {'step': 'ssh', 'message': 'the connection failed: %s' % _last_line(result), 'tail': []}
    if not isinstance(result, dict) or result.get('skipped') or 'rc' not in result:
        if failed and failed.get('msg'):
            return {'step': 'ansible', 'message': str(failed['msg']), 'tail': []}
        return {}
    if result['rc'] == 0:
        return {}
    events = _documents(result.get('stdout'))
    failed_step = next((event['step'] for event in events if event.get('event') == 'step' and event.get('ok') is False), None)
    last_step = next((event['step'] for event in reversed(events) if event.get('step')), None)
    errors = [event['message'] for event in events if event.get('event') == 'error' and event.get('message')]
    stderr = [line for line in str(result.get('stderr') or '').splitlines() if line.strip()]
    lines = [text for text in map(_event_text, events) if text] + stderr
    return {
        'step': failed_step or last_step or 'deploy',
        'message': errors[-1] if errors else 'exit code %s' % result['rc'],
        'tail': lines[-5:],
    }


def _ran(facts):
    deploy = facts.get('switchyard_deploy') or {}
    return bool(deploy) and not deploy.get('skipped')


def deploy_switched(result):
    """Whether this host's deploy ran and succeeded (it serves the SHA now)."""
    return isinstance(result, dict) and not result.get('skipped') and not result.get('unreachable') and result.get('rc') == 0


def _switched(facts):
    return deploy_switched(facts.get('switchyard_deploy'))


def _untouched(facts):
    """A host whose batch never started (one already on the SHA had nothing to do, wherever its batch)."""
    return not _ran(facts) and 'switchyard_failed' not in facts and facts.get('switchyard_before') != facts.get('switchyard_commit')


def lease_taken(result):
    """Whether this probe took (or already held) the lease."""
    return bool((probe_json(result).get('taken') or {}).get('taken'))


def summary(hosts, hostvars, on_failure):
    """{outcome, line}: success, reverted or halted, and the one line: the host, its failed step, what was put back or left."""
    first = hostvars[hosts[0]] if hosts else {}
    commit = str(first['switchyard_commit']) if 'switchyard_commit' in first else ''
    short = commit[:7] or 'nothing'
    names = lambda chosen: ', '.join(chosen)  # noqa: E731
    failures = gather(hosts, hostvars, 'switchyard_failed')
    if not failures:
        return {'outcome': 'success', 'line': 'fleet deploy %s done on %d host(s): %s' % (short, len(hosts), names(hosts))}
    failure = failures[0]
    where = failure['value']
    parts = ['fleet deploy %s failed on %s at its %s step: %s' % (short, failure['host'], where['step'], where['message'])]
    switched = [host for host in hosts if _switched(hostvars[host])]
    untouched = [host for host in hosts if _untouched(hostvars[host])]
    outcome = 'halted'
    if on_failure == 'revert':
        reverted, could_not = [], []
        for host in switched:
            revert = hostvars[host].get('switchyard_revert') or {}
            if revert.get('rc') == 0:
                reverted.append(host)
            elif not hostvars[host].get('switchyard_before'):
                could_not.append('%s (it served nothing before this run: nothing to go back to)' % host)
            else:
                could_not.append('%s (%s)' % (host, deploy_failure(revert).get('message', 'not run')))
        if reverted:
            parts.append('reverted %s to the release each served before' % names(reverted))
        elif not could_not:
            parts.append('no host had switched')
        if could_not:
            parts.append('COULD NOT revert %s' % names(could_not))
        else:
            outcome = 'reverted'
    elif switched:
        parts.append('switchyard_on_failure=halt: %s left on %s, the rest on their release: the fleet serves two versions' % (
            names(switched), short))
    if untouched:
        parts.append('not touched: %s' % names(untouched))
    return {'outcome': outcome, 'line': '; '.join(parts)}


class FilterModule(object):
    def filters(self):
        return {
            'switchyard_probe_json': probe_json,
            'switchyard_probe_problem': probe_problem,
            'switchyard_lease_taken': lease_taken,
            'switchyard_gather': gather,
            'switchyard_preflight_line': preflight_line,
            'switchyard_deploy_failure': deploy_failure,
            'switchyard_deploy_switched': deploy_switched,
            'switchyard_summary': summary,
        }
