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
  /**
   * FLEET_PAUSE, after each batch but the last that passed: the wait, then each of its hosts' verdict (a host
   * whose own bake judgement rolled it back fails; it already serves what it served before).
   */
  pause?(batch: H[], index: number): Promise<HostResult[]>;
  /** FLEET_DRAIN_CMD: the batch's hosts out of new requests before their change, and back (`ready`) after it. */
  drain?(batch: H[], state: 'drain' | 'ready'): Promise<HostResult>;
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
  /** Hosts that failed within FLEET_MAX_FAIL: the rollout went on past them, each left on what it served. */
  tolerated: { host: H; result: HostResult }[];
};

/** `maxFailures`: hosts that may fail (FLEET_MAX_FAIL) before one more stops the rollout; a failed check always does. */
export async function rollout<H>(batches: H[][], steps: RolloutSteps<H>, onFailure: 'revert' | 'halt', maxFailures = 0): Promise<RolloutResult<H>> {
  const switched: H[] = [];
  const failed: { host: H; result: HostResult }[] = [];
  const overBudget = (found: { host: H; result: HostResult }[]): Failure<H> | undefined => {
    failed.push(...found);
    const first = found[0];
    return first && failed.length > maxFailures
      ? { host: first.host, step: first.result.step ?? 'deploy', message: first.result.message ?? 'failed', tail: first.result.tail ?? [] }
      : undefined;
  };
  const interruption = (): Failure<H> | undefined => {
    const why = steps.interrupted?.();
    return why ? { host: undefined, step: 'interrupted', message: why, tail: [] } : undefined;
  };
  for (const [index, batch] of batches.entries()) {
    const before = interruption();
    if (before) return stop(before, batches.slice(index).flat());
    steps.onBatch?.(batch, index);
    const drained = steps.drain ? await settle(() => steps.drain!(batch, 'drain')) : undefined;
    if (drained && !drained.ok) return stop({ host: undefined, step: 'drain', message: drained.message ?? 'FLEET_DRAIN_CMD failed', tail: drained.tail ?? [] }, batches.slice(index).flat());
    // Every host of a batch runs its cycle to its end: a cycle stopped halfway is what the host lock exists to prevent.
    const results = await Promise.all(batch.map(async (host) => ({ host, result: await settle(() => steps.change(host)) })));
    for (const { host, result } of results) if (result.switched) switched.push(host);
    let failure = overBudget(results.filter(({ result }) => !result.ok));
    const ready = steps.drain ? await settle(() => steps.drain!(batch, 'ready')) : undefined;
    if (!failure && ready && !ready.ok) failure = { host: undefined, step: 'drain', message: ready.message ?? 'FLEET_DRAIN_CMD failed', tail: ready.tail ?? [] };
    if (!failure && steps.check) {
      const checked = await settle(() => steps.check!(batch, index));
      if (!checked.ok) failure = { host: undefined, step: 'check', message: checked.message ?? 'FLEET_CHECK_CMD failed', tail: checked.tail ?? [] };
    }
    if (!failure && steps.pause && index < batches.length - 1 && !steps.interrupted?.()) {
      const passed = results.filter(({ result }) => result.ok).map(({ host }) => host);
      const verdicts = await settleAll(() => steps.pause!(passed, index), passed.length);
      const sick = passed.map((host, at) => ({ host, result: verdicts[at] })).filter(({ result }) => !result.ok);
      // A host that rolled itself back serves what it served before: nothing of it to revert.
      for (const { host } of sick) switched.splice(switched.indexOf(host), 1);
      failure = overBudget(sick);
    }
    // A check the interruption stopped did not fail: the interruption is what happened.
    if (!failure || failure.step === 'check') failure = interruption() ?? failure;
    if (failure) return stop(failure, batches.slice(index + 1).flat());
  }
  return { ok: true, changed: switched, reverted: [], revertFailed: [], untouched: [], tolerated: failed };

  async function stop(failure: Failure<H>, untouched: H[]): Promise<RolloutResult<H>> {
    const tolerated = failed.filter(({ host }) => host !== failure.host);
    if (onFailure === 'halt') return { ok: false, changed: switched, failure, reverted: [], revertFailed: [], untouched, tolerated };
    const reverts = await Promise.all(switched.map(async (host) => ({ host, result: await settle(() => steps.revert(host)) })));
    return {
      ok: false,
      changed: reverts.filter(({ result }) => !result.ok).map(({ host }) => host),
      failure,
      reverted: reverts.filter(({ result }) => result.ok).map(({ host }) => host),
      revertFailed: reverts.filter(({ result }) => !result.ok),
      untouched,
      tolerated,
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

/** The pause's verdicts, one per host; a pause that throws fails every host of the batch. */
async function settleAll(step: () => Promise<HostResult[]>, count: number): Promise<HostResult[]> {
  try {
    return await step();
  } catch (error) {
    return Array.from({ length: count }, () => ({ ok: false, switched: false, step: 'pause', message: error instanceof Error ? error.message : String(error) }));
  }
}
