import type { HostCheck } from './preflight.ts';

/**
 * RELEASE_CMD across a fleet: it runs once, on one host, before any other host changes. The first
 * host (in rollout order) deploys alone, ahead of everyone, with RELEASE_CMD as its own deploy runs
 * it (after its build, before its switch, recorded there); every other host then deploys with
 * `--no-release-cmd`. The fleet lease is held throughout. Pure.
 *
 * Why not a host-side "migrate only" command: it would have to build the release outside the host's
 * cycle (a second build path, with its own journal and recovery); the host's own deploy already runs
 * RELEASE_CMD at the right moment and fails with nothing switched, so the fleet only orders the hosts.
 */

export type ReleaseCmdOrder<H> = {
  batches: H[][];
  /** The host whose deploy runs RELEASE_CMD, if any host has one set and that host does not already serve the commit. */
  runsOn?: H;
  /** The deploy flags for a host. */
  flags(host: H): string[];
};

export function releaseCmdOrder<H>(
  batches: H[][],
  checks: ReadonlyMap<H, HostCheck | undefined>,
  commit: string | null,
): ReleaseCmdOrder<H> {
  const first = batches[0]?.[0];
  const anySet = [...checks.values()].some((check) => check?.probe?.releaseCmd === true);
  // A first host already on the commit ran it when it went there (it led that rollout too).
  if (!first || !anySet || !commit || checks.get(first)?.probe?.commit === commit) return { batches, flags: () => (anySet ? ['--no-release-cmd'] : []) };
  const [, ...restOfFirst] = batches[0];
  return {
    batches: [[first], ...(restOfFirst.length ? [restOfFirst] : []), ...batches.slice(1)],
    runsOn: first,
    flags: (host) => (host === first ? [] : ['--no-release-cmd']),
  };
}
