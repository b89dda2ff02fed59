import { isSwitchyardError } from '../errors.ts';
import { runShell } from '../host/run.ts';
import type { FleetHost } from './hosts.ts';
import type { FleetContext } from './context.ts';
import type { HostResult } from './rollout.ts';

/**
 * FLEET_DRAIN_CMD around each batch: `drain` before its hosts deploy (the front sends them no new
 * requests), `ready` after. A batch of every host is not drained: the front would have no server left.
 * The hosts this command drained and could not put back are tried again at its end (`readyLeft`).
 */

export type DrainSteps = { drain(batch: FleetHost[], state: 'drain' | 'ready'): Promise<HostResult>; readyLeft(): Promise<void> };

/** The facts FLEET_DRAIN_CMD gets: the hosts' names and their places in FLEET_HOSTS (h1, h2 ... in templates/fleet/haproxy-rolling.cfg). Pure. */
export function drainEnv(state: 'drain' | 'ready', batch: FleetHost[], hosts: FleetHost[]): Record<string, string> {
  const numbers = batch.map((host) => hosts.findIndex((each) => each.name === host.name) + 1);
  return { SWITCHYARD_DRAIN: state, SWITCHYARD_HOSTS: batch.map((host) => host.name).join(' '), SWITCHYARD_HOST_NUMBERS: numbers.join(' ') };
}

export function drainSteps(ctx: FleetContext): DrainSteps {
  const { config, out } = ctx;
  const drained = new Set<FleetHost>();
  const run = async (batch: FleetHost[], state: 'drain' | 'ready'): Promise<HostResult> => {
    const tail: string[] = [];
    try {
      await runShell(config.drainCmd, {
        env: { ...ctx.env, ...drainEnv(state, batch, config.hosts) },
        timeoutMs: 60_000,
        onLine: (line) => {
          tail.push(line);
          if (tail.length > 5) tail.shift();
          out.output('drain', line);
        },
      });
      for (const host of batch) {
        if (state === 'drain') drained.add(host);
        else drained.delete(host);
      }
      return { ok: true, switched: false };
    } catch (error) {
      const why = isSwitchyardError(error) ? error.message : String(error);
      return { ok: false, switched: false, step: 'drain', message: `FLEET_DRAIN_CMD ${state} of ${batch.map((host) => host.name).join(', ')} failed: ${why}`, tail };
    }
  };
  return {
    drain: async (batch, state) => {
      if (batch.length >= config.hosts.length) {
        if (state === 'drain') out.info('this batch is every host: none is drained, or the front would have no server left');
        return { ok: true, switched: false };
      }
      return run(batch, state);
    },
    async readyLeft() {
      if (drained.size === 0) return;
      const left = [...drained];
      const result = await run(left, 'ready');
      if (!result.ok) out.warn(`${result.message}: ${left.map((host) => host.name).join(', ')} stay out of the front's rotation; put them back by hand`);
    },
  };
}
