import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, SlotName } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { describeEndpoints, slotEndpoints } from '../slot/endpoints.ts';
import { SwitchyardError } from '../errors.ts';
import { runShell } from '../host/run.ts';
import { CHECK_PASSES, CHECK_PAUSE_MS, checkDeadlineMs, type SlotTarget, type SwitchReport, type TrafficSwitch } from './types.ts';
export { CHECK_PASSES, checkDeadlineMs };

/**
 * SWITCH=command: any load balancer, through the operator's own SWITCH_CMD (templates/haproxy/ has
 * one for HAProxy). The facts travel in the environment, never in the command string. SWITCH_CHECK_CMD,
 * when set, must then pass CHECK_PASSES times in a row; a failure of either runs SWITCH_CMD again with
 * the previous slot's facts. The command cannot tell where traffic goes, so currentSlot() is undefined
 * and recovery after a crash re-asserts the recorded live slot by running SWITCH_CMD again.
 */

/** How many exits 0 in a row of SWITCH_CHECK_CMD confirm the switch, and the pause between runs. */
/** A SWITCH_CMD that hangs must not hold the deploy lock for ever: it is killed (its process group) after this. */
export const SWITCH_CMD_TIMEOUT_MS = 60_000;

/** A slot's ports, one per instance (SLOT_LISTEN=socket needs an nginx switch, so these are ports). Pure. */
function slotPorts(config: Config, slot: SlotName | null): string[] {
  return (slot ? slotEndpoints(config, slot) : []).flatMap((endpoint) => (endpoint.kind === 'port' ? [String(endpoint.port)] : []));
}

/**
 * The variables SWITCH_CMD and SWITCH_CHECK_CMD get: traffic goes to `live`; `previous` is empty when
 * no slot was live. With INSTANCES > 1 each slot has several ports (SWITCHYARD_PORTS, space-separated;
 * SWITCHYARD_PORT is the first, SWITCHYARD_INSTANCES says how many). Pure.
 */
export function switchCommandEnv(config: Config, live: SlotName, previous: SlotName | null): Record<string, string> {
  const ports = slotPorts(config, live);
  const previousPorts = slotPorts(config, previous);
  return {
    SWITCHYARD_SLOT: live,
    SWITCHYARD_PORT: ports[0] ?? '',
    SWITCHYARD_PORTS: ports.join(' '),
    SWITCHYARD_INSTANCES: String(config.instances),
    SWITCHYARD_PREVIOUS_SLOT: previous ?? '',
    SWITCHYARD_PREVIOUS_PORT: previousPorts[0] ?? '',
    SWITCHYARD_PREVIOUS_PORTS: previousPorts.join(' '),
    SWITCHYARD_APP_NAME: config.appName,
  };
}


/** The deploying process's environment without stale SWITCHYARD_* values, plus the facts. */
function commandEnv(config: Config, live: SlotName, previous: SlotName | null): Record<string, string | undefined> {
  const base = Object.fromEntries(Object.entries(config.commandEnv).filter(([key]) => !key.startsWith('SWITCHYARD_')));
  return { ...base, ...switchCommandEnv(config, live, previous) };
}

/** The last few output lines of a failed command, on one line. Pure. */
export function lastLines(error: unknown, count = 3): string {
  const details = error instanceof SwitchyardError ? error.details : [];
  const lines = details.map((line) => line.trim()).filter(Boolean).slice(-count);
  const head = error instanceof Error ? error.message : String(error);
  return lines.length ? `${head}: ${lines.join(' | ')}` : head;
}

export function commandSwitch(config: Config, hooks: { phase?: (name: string) => Promise<void> | void } = {}): TrafficSwitch {
  const { switchCmd, checkCmd } = config.command;
  const run = (command: string, live: SlotName, previous: SlotName | null, timeoutMs = SWITCH_CMD_TIMEOUT_MS) =>
    runShell(command, { env: commandEnv(config, live, previous), timeoutMs });

  /** CHECK_PASSES exits 0 in a row, or throws with the last failure. */
  async function confirm(live: SlotTarget, previous: SlotTarget | null): Promise<string> {
    const started = Date.now();
    const deadline = started + checkDeadlineMs(config);
    let inARow = 0;
    let runs = 0;
    let last: unknown;
    while (Date.now() < deadline) {
      runs++;
      try {
        await run(checkCmd, live.slot, previous?.slot ?? null, Math.max(1000, deadline - Date.now()));
        inARow++;
        if (inARow >= CHECK_PASSES) return `SWITCH_CHECK_CMD passed ${inARow} times in a row (${runs} run(s) in ${formatDuration(Date.now() - started)})`;
      } catch (error) {
        inARow = 0;
        last = error;
      }
      await sleep(CHECK_PAUSE_MS);
    }
    throw new SwitchyardError(`SWITCH_CHECK_CMD did not pass ${CHECK_PASSES} times in a row within ${formatDuration(checkDeadlineMs(config))} (max(HEALTH_TIMEOUT, 10s)); last: ${last ? lastLines(last) : 'it was still passing when time ran out'}`);
  }

  /** Put traffic back on `previous` with the same SWITCH_CMD; says what happened, for the error's `untouched`. */
  async function restore(live: SlotTarget, previous: SlotTarget | null): Promise<string> {
    if (!previous) return 'no slot was live before, so there was nothing to restore; the load balancer is as SWITCH_CMD left it';
    try {
      await run(switchCmd, previous.slot, live.slot);
      return `traffic was sent back to slot ${previous.slot} (SWITCH_CMD run again with its values exited 0)`;
    } catch (error) {
      return `sending traffic back to slot ${previous.slot} failed too (${lastLines(error)}): check the load balancer by hand`;
    }
  }

  return {
    kind: 'command',
    // A command cannot tell where traffic goes: recovery re-asserts the recorded live slot instead.
    currentSlot: () => undefined,
    async moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string> {
      try {
        await run(switchCmd, live.slot, previous?.slot ?? null);
      } catch (error) {
        const untouched = await restore(live, previous);
        throw new SwitchyardError(`SWITCH_CMD failed to send traffic to slot ${live.slot} (${describeEndpoints(live.endpoints)}): ${lastLines(error)}`, {
          untouched,
          next: 'fix SWITCH_CMD (run it by hand with SWITCHYARD_SLOT and SWITCHYARD_PORT set to see why), then deploy again',
        });
      }
      await hooks.phase?.('switch-command-ran');
      if (!checkCmd.trim()) return `SWITCH_CMD sent traffic to slot ${live.slot} (no SWITCH_CHECK_CMD to confirm it)`;
      try {
        return `SWITCH_CMD sent traffic to slot ${live.slot}; ${await confirm(live, previous)}`;
      } catch (error) {
        report(`SWITCH_CHECK_CMD does not confirm slot ${live.slot}: putting traffic back`);
        const untouched = await restore(live, previous);
        throw new SwitchyardError(`the load balancer does not send traffic to slot ${live.slot} (${describeEndpoints(live.endpoints)}): ${(error as Error).message}`, {
          untouched,
          next: 'run SWITCH_CHECK_CMD by hand with SWITCHYARD_SLOT set to see why it fails, fix the load balancer or the command, then deploy again',
        });
      }
    },
  };
}
