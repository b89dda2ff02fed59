/**
 * A rolling change across batches, with what it touches injected: the order, the stop at the first
 * failure and what is put back are decided here, without ssh, so they are tested without hosts.
 */

export type HostResult = {
  ok: boolean;
  /** Traffic on that host moved to the new release (false: the host's own cycle left it, or put it back). */
  switched: boolean;
  /** The host's step that failed (fetch, build, health, switch ...), or `ssh`, `check`. */
  step?: string;
  message?: string;
  tail?: string[];
};

export type RolloutSteps<H> = {
  change(host: H): Promise<HostResult>;
  /** FLEET_CHECK_CMD after a batch; undefined when none is set. */
  check?(batch: H[], index: number): Promise<HostResult>;
  revert(host: H): Promise<HostResult>;
  /** Told of each batch as it starts (for the output). */
  onBatch?(batch: H[], index: number): void;
  /** Why the rollout must stop (an operator's Ctrl-C), checked before each batch and after it: the hosts of a batch always finish. */
  interrupted?(): string | undefined;
};

export type Failure<H> = { host: H | undefined; step: string; message: string; tail: string[] };

export type RolloutResult<H> = {
  ok: boolean;
  /** Hosts whose traffic moved and stays moved. */
  changed: H[];
  failure?: Failure<H>;
  /** FLEET_ON_FAILURE=revert: the hosts put back, and those that could not be. */
  reverted: H[];
  revertFailed: { host: H; result: HostResult }[];
  /** Hosts of later batches: never touched. */
  untouched: H[];
};

export async function rollout<H>(batches: H[][], steps: RolloutSteps<H>, onFailure: 'revert' | 'halt'): Promise<RolloutResult<H>> {
  const switched: H[] = [];
  const interruption = (): Failure<H> | undefined => {
    const why = steps.interrupted?.();
    return why ? { host: undefined, step: 'interrupted', message: why, tail: [] } : undefined;
  };
  for (const [index, batch] of batches.entries()) {
    const before = interruption();
    if (before) return stop(before, batches.slice(index).flat());
    steps.onBatch?.(batch, index);
    // Every host of a batch runs its cycle to its end: a cycle stopped halfway is what the host lock exists to prevent.
    const results = await Promise.all(batch.map(async (host) => ({ host, result: await settle(() => steps.change(host)) })));
    for (const { host, result } of results) if (result.switched) switched.push(host);
    const failed = results.find(({ result }) => !result.ok);
    let failure: Failure<H> | undefined = failed && { host: failed.host, step: failed.result.step ?? 'deploy', message: failed.result.message ?? 'failed', tail: failed.result.tail ?? [] };
    if (!failure && steps.check) {
      const checked = await settle(() => steps.check!(batch, index));
      if (!checked.ok) failure = { host: undefined, step: 'check', message: checked.message ?? 'FLEET_CHECK_CMD failed', tail: checked.tail ?? [] };
    }
    // A check the interruption stopped did not fail: the interruption is what happened.
    if (!failure || failure.step === 'check') failure = interruption() ?? failure;
    if (failure) return stop(failure, batches.slice(index + 1).flat());
  }
  return { ok: true, changed: switched, reverted: [], revertFailed: [], untouched: [] };

  async function stop(failure: Failure<H>, untouched: H[]): Promise<RolloutResult<H>> {
    if (onFailure === 'halt') return { ok: false, changed: switched, failure, reverted: [], revertFailed: [], untouched };
    const reverts = await Promise.all(switched.map(async (host) => ({ host, result: await settle(() => steps.revert(host)) })));
    return {
      ok: false,
      changed: reverts.filter(({ result }) => !result.ok).map(({ host }) => host),
      failure,
      reverted: reverts.filter(({ result }) => result.ok).map(({ host }) => host),
      revertFailed: reverts.filter(({ result }) => !result.ok),
      untouched,
    };
  }
}

/** A step that throws is a failed step, never a rollout left half-way without its reverts. */
async function settle(step: () => Promise<HostResult>): Promise<HostResult> {
  try {
    return await step();
  } catch (error) {
    return { ok: false, switched: false, step: 'controller', message: error instanceof Error ? error.message : String(error) };
  }
}
