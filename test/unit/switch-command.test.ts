import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../lib/config/config.ts';
import { commandProgram, programProblem } from '../../lib/setup/doctor/switch-command.ts';
import { planCycle } from '../../lib/cycle/plan.ts';
import { checkDeadlineMs, commandSwitch, switchCommandEnv } from '../../lib/traffic/command.ts';
import { trafficTarget } from '../../lib/traffic/types.ts';
import { drainsAtProxy } from '../../lib/traffic/types.ts';

const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop', PORT_A: '4001', PORT_B: '4002' };
const resolve = (values: Record<string, string>) => resolveConfig({ fileValues: { ...base, ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });

describe('SWITCH=command: configuration', () => {
  it('requires SWITCH_CMD', () => {
    expect(() => resolve({ SWITCH: 'command' })).toThrow(/SWITCH=command requires SWITCH_CMD/);
    const config = resolve({ SWITCH: 'command', SWITCH_CMD: '/srv/shop/haproxy/switch.sh', SWITCH_CHECK_CMD: '/srv/shop/haproxy/check.sh' });
    expect(config.switchKind).toBe('command');
    expect(config.command).toEqual({ switchCmd: '/srv/shop/haproxy/switch.sh', checkCmd: '/srv/shop/haproxy/check.sh' });
    expect(config.notices).toEqual([]);
  });

  it('notices SWITCH_CMD and SWITCH_CHECK_CMD set with another SWITCH', () => {
    const config = resolve({ SWITCH_CMD: 'x', SWITCH_CHECK_CMD: 'y' });
    expect(config.notices).toEqual([
      'SWITCH_CMD is set but SWITCH=nginx-live-file, so it is not used; set SWITCH=command to use it, or remove it',
      'SWITCH_CHECK_CMD is set but SWITCH=nginx-live-file, so it is not used; set SWITCH=command to use it, or remove it',
    ]);
  });

  it('drains at the load balancer before SIGTERM', () => {
    expect(drainsAtProxy('command')).toBe(true);
  });
});

describe('SWITCH=command: the facts in the environment', () => {
  const config = resolve({ SWITCH: 'command', SWITCH_CMD: 'true' });
  it('names the slot, its ports, the previous slot and the app', () => {
    expect(switchCommandEnv(config, 'b', 'a')).toEqual({
      SWITCHYARD_SLOT: 'b',
      SWITCHYARD_PORT: '4002',
      SWITCHYARD_PORTS: '4002',
      SWITCHYARD_INSTANCES: '1',
      SWITCHYARD_PREVIOUS_SLOT: 'a',
      SWITCHYARD_PREVIOUS_PORT: '4001',
      SWITCHYARD_PREVIOUS_PORTS: '4001',
      SWITCHYARD_APP_NAME: 'shop',
    });
  });

  it('lists every port of a pool (INSTANCES=2); sockets need an nginx switch', () => {
    const pool = resolve({ SWITCH: 'command', SWITCH_CMD: 'true', INSTANCES: '2', PORT_B: '4011' });
    expect(switchCommandEnv(pool, 'b', 'a')).toMatchObject({ SWITCHYARD_PORT: '4011', SWITCHYARD_PORTS: '4011 4012', SWITCHYARD_PREVIOUS_PORTS: '4001 4002', SWITCHYARD_INSTANCES: '2' });
    expect(() => resolve({ SWITCH: 'command', SWITCH_CMD: 'true', SLOT_LISTEN: 'socket' })).toThrow(/SLOT_LISTEN=socket needs SWITCH=nginx-live-file, nginx-reload or passive/);
  });

  it('leaves the previous values empty on a first deploy', () => {
    expect(switchCommandEnv(config, 'a', null)).toMatchObject({ SWITCHYARD_PREVIOUS_SLOT: '', SWITCHYARD_PREVIOUS_PORT: '', SWITCHYARD_PREVIOUS_PORTS: '' });
  });

  it('bounds the check by HEALTH_TIMEOUT, at least 10 s', () => {
    expect(checkDeadlineMs(resolve({ SWITCH: 'command', SWITCH_CMD: 'true', HEALTH_TIMEOUT: '2s' }))).toBe(10_000);
    expect(checkDeadlineMs(resolve({ SWITCH: 'command', SWITCH_CMD: 'true', HEALTH_TIMEOUT: '45s' }))).toBe(45_000);
  });

  it('is described truthfully by --dry-run', () => {
    const withCheck = resolve({ SWITCH: 'command', SWITCH_CMD: './switch.sh', SWITCH_CHECK_CMD: './check.sh', BAKE_TIME: '0' });
    const steps = planCycle(withCheck, { command: 'deploy', target: 'b', previous: 'a', commit: null, reuse: false, warm: false, recovers: false }, []).steps;
    const what = (name: string) => steps.find((step) => step.name === name)?.what;
    expect(what('switch')).toContain('run SWITCH_CMD (/bin/sh -c "./switch.sh") with SWITCHYARD_SLOT=b SWITCHYARD_PORT=4002 SWITCHYARD_PREVIOUS_SLOT=a, then SWITCH_CHECK_CMD');
    expect(what('switch')).toMatch(/3 times in a row \(at most 30(\.0)?s\)/);
    expect(what('switch')).not.toContain('nginx');
    expect(what('drain')).toMatch(/^wait until the load balancer has no request in flight to slot a/);
  });
});

describe('SWITCH=command: running the commands', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-command-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'calls.log');
  // Records each call's facts; fails for the slot named in FAIL_FOR.
  const script = path.join(dir, 'lb.sh');
  writeFileSync(script, `#!/bin/sh\necho "$1 $SWITCHYARD_SLOT $SWITCHYARD_PORT prev=$SWITCHYARD_PREVIOUS_SLOT" >> ${log}\nif [ "$SWITCHYARD_SLOT" = "$FAIL_FOR" ]; then echo "backend busy for $SWITCHYARD_SLOT" >&2; exit 3; fi\n`);
  chmodSync(script, 0o755);
  const calls = () => {
    try {
      return readFileSync(log, 'utf8').trim().split('\n');
    } catch {
      return [];
    }
  };
  const a = trafficTarget(resolve({}), 'a', null);
  const b = trafficTarget(resolve({}), 'b', null);

  it('a failing SWITCH_CMD runs it again with the previous slot, then fails with its last lines', async () => {
    rmSync(log, { force: true });
    // The environment the command was started with reaches SWITCH_CMD (Config.commandEnv).
    const config = resolveConfig({ fileValues: { ...base, SWITCH: 'command', SWITCH_CMD: `${script} switch` }, env: { ...process.env, FAIL_FOR: 'b' }, envFile: '/etc/switchyard/shop.env' });
    const traffic = commandSwitch(config);
    const error = await traffic.moveTo(b, a, () => undefined).catch((caught) => caught);
    expect(error.line).toMatch(/^SWITCH_CMD failed to send traffic to slot b \(port 4002\): .* failed with exit code 3: backend busy for b; traffic was sent back to slot a/);
    expect(calls()).toEqual(['switch b 4002 prev=a', 'switch a 4001 prev=b']);
    expect(traffic.currentSlot()).toBeUndefined();
  });

  it('SWITCH_CHECK_CMD must pass 3 times in a row; a check that never passes restores the previous slot', async () => {
    rmSync(log, { force: true });
    const ok = await commandSwitch(resolve({ SWITCH: 'command', SWITCH_CMD: `${script} switch`, SWITCH_CHECK_CMD: `${script} check` })).moveTo(b, a, () => undefined);
    expect(ok).toMatch(/SWITCH_CHECK_CMD passed 3 times in a row/);
    expect(calls()).toEqual(['switch b 4002 prev=a', 'check b 4002 prev=a', 'check b 4002 prev=a', 'check b 4002 prev=a']);

    rmSync(log, { force: true });
    const failing = resolve({ SWITCH: 'command', SWITCH_CMD: `${script} switch`, SWITCH_CHECK_CMD: 'echo "slot a answered"; exit 1', HEALTH_TIMEOUT: '1s' });
    const started = Date.now();
    const error = await commandSwitch(failing).moveTo(b, a, () => undefined).catch((caught) => caught);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(error.line).toMatch(/^the load balancer does not send traffic to slot b \(port 4002\): SWITCH_CHECK_CMD did not pass 3 times in a row within 10(\.0)?s .*slot a answered; traffic was sent back to slot a/);
    expect(calls()).toEqual(['switch b 4002 prev=a', 'switch a 4001 prev=b']);
  }, 20_000);
});

describe('doctor: the switch command program', () => {
  it('finds the program after VAR=value words', () => {
    expect(commandProgram('LB=web /srv/x/switch.sh --fast')).toBe('/srv/x/switch.sh');
    expect(commandProgram('  ')).toBeUndefined();
  });
  it('names a missing or non-executable path, and a name not on PATH', () => {
    expect(programProblem('/nonexistent/switch.sh', '/usr/bin', '/')).toBe('/nonexistent/switch.sh does not exist');
    const plain = path.join(mkdtempSync(path.join(os.tmpdir(), 'switchyard-program-')), 'switch.sh');
    writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
    expect(programProblem(plain, '/usr/bin', '/')).toMatch(/is not an executable file \(chmod \+x /);
    rmSync(path.dirname(plain), { recursive: true });
    expect(programProblem('sh', '/usr/bin:/bin', '/')).toBeUndefined();
    expect(programProblem('no-such-program-xyz', '/usr/bin', '/')).toMatch(/is not on PATH/);
  });
});
