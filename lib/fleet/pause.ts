import { setTimeout as sleep } from 'node:timers/promises';
import type { FleetHost } from './hosts.ts';
import type { Probe } from './preflight.ts';
import type { FleetContext } from './context.ts';
import type { HostResult } from './rollout.ts';

/**
 * FLEET_PAUSE after a batch: the controller only waits while each host's own bake judgement (BAKE_TIME,
 * AUTO_ROLLBACK) watches the release under real traffic, then reads each host through its open session.
 * A host that serves another commit than the rollout's rolled itself back: that host fails the rollout.
 */

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : 'nothing');

export async function pauseThenRead(ctx: FleetContext, batch: FleetHost[], commit: string | null, index: number): Promise<HostResult[]> {
  const { config, out } = ctx;
  const fine: HostResult = { ok: true, switched: true };
  out.info(`FLEET_PAUSE ${config.pauseText} after batch ${index + 1}: each host's own bake judgement runs; then ${commit ? `each must still serve ${short(commit)}` : 'the next batch'}`);
  try {
    await sleep(config.pauseMs, undefined, { signal: ctx.signal });
  } catch {
    // Interrupted: the rollout stops after this batch, which the hosts finished.
    return batch.map(() => fine);
  }
  // A rollback to each host's own previous release has no one commit to hold the hosts to: the wait is all.
  if (!commit) return batch.map(() => fine);
  return Promise.all(batch.map(async (host): Promise<HostResult> => {
    const result = await ctx.remote.ask(host, { op: 'probe' }, { timeoutMs: 30_000 });
    const probe = result.json as Probe | undefined;
    if (!result.reached || typeof probe?.version !== 'string') {
      return { ok: false, switched: true, step: 'pause', message: `could not be read after FLEET_PAUSE: ${result.tracker.tail(2).join(' ') || 'no answer'}` };
    }
    if (probe.commit === commit) return fine;
    return {
      ok: false,
      switched: false,
      step: 'bake',
      message: `rolled itself back during FLEET_PAUSE: it serves ${short(probe.commit)}, not ${short(commit)} (its bake judgement; its \`./deploy.ts history\` says why)`,
    };
  }));
}
