import type { Config, SlotName } from '../config/config.ts';
import { runShell } from '../host/run.ts';
import { portValue, slotEndpoints } from '../slot/endpoints.ts';

/**
 * BAKE_CHECK_CMD: the operator's own check (a smoke test, a query of their metrics), run once per
 * window; a non-zero exit, or not finishing within the window, fails it.
 */
export async function runBakeCheck(
  config: Config,
  slot: SlotName,
  previous: SlotName,
  options: { env?: Record<string, string | undefined>; signal?: AbortSignal } = {},
): Promise<{ ok: boolean; detail: string }> {
  const command = config.judge.bakeCheckCmd;
  if (!command.trim()) return { ok: true, detail: 'no BAKE_CHECK_CMD' };
  const env = {
    ...options.env,
    SWITCHYARD_SLOT: slot,
    SWITCHYARD_PORT: portValue(slotEndpoints(config, slot)[0]),
    SWITCHYARD_PREVIOUS_SLOT: previous,
    SWITCHYARD_APP_NAME: config.appName,
  };
  try {
    const result = await runShell(command, { cwd: config.deployRoot, env, signal: options.signal, timeoutMs: config.judge.intervalMs });
    return { ok: true, detail: `BAKE_CHECK_CMD exited 0${result.tail.length ? `: ${result.tail.at(-1)}` : ''}` };
  } catch (error) {
    return { ok: false, detail: `BAKE_CHECK_CMD failed: ${(error as Error).message.split('\n')[0]}` };
  }
}
