import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { runShell } from '../host/run.ts';
import { isSwitchyardError, SwitchyardError } from '../errors.ts';
import { batchWidth, failureBudget, planBatches } from './batches.ts';
import type { FleetConfig } from './config.ts';
import type { FleetContext } from './context.ts';
import { leaseOrder, type FleetHost } from './hosts.ts';
import { checkHost, LEASE_TTL_S, resolvedCommit, type HostCheck, type Take } from './preflight.ts';
import type { RemoteResult } from './remote.ts';
import { releaseCmdOrder } from './release-cmd.ts';
import { drainSteps } from './drain.ts';
import { pauseThenRead } from './pause.ts';
import { rollout, type HostResult, type RolloutResult } from './rollout.ts';

/** `fleet deploy` and `fleet rollback`, rolling: preflight and lease on every host, one SHA, batches, revert or halt. */

/** Why the rollout stops early, or nothing. */
export function interruptedBy(ctx: FleetContext): string | undefined {
  return ctx.signal?.aborted ? `interrupted by ${String(ctx.signal.reason)}` : undefined;
}

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : 'nothing');

export function newFleetId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * Preflight with the lease taken on every host; on any problem every lease taken is given back and
 * nothing changed. `resolve`: the revision the anchor (below) resolves in the same call ('' for
 * DEPLOY_BRANCH): its fetch runs while the other hosts' sessions are still starting.
 * The lease of the host first in name order (leaseOrder, the anchor) is taken alone, before the others: of two
 * controllers started together exactly one gets it, and the other stops there having taken nothing,
 * so one of them always goes on (taking them all at once, each could get some and both give up).
 * Meanwhile the other hosts' sessions start (their ssh handshake and Node start) with a probe that takes
 * nothing, so their leases then cost one round trip each, not a second host start after the first.
 */
export async function preflightAndLease(
  ctx: FleetContext,
  hosts: FleetHost[],
  take: Take,
  resolve?: string,
): Promise<Map<string, HostCheck>> {
  const [anchor, ...others] = leaseOrder(hosts);
  // The anchor's check is asked first, so a FLEET_PARALLEL smaller than the fleet never queues it behind the others' starts.
  const anchored = checkHost(ctx.remote, anchor, take, resolve, { session: true });
  const starting = Promise.allSettled(others.map((host) => ctx.remote.ask(host, { op: 'probe' }, { timeoutMs: 60_000 })));
  const first = await anchored;
  const check = (host: FleetHost) => checkHost(ctx.remote, host, take, undefined, { session: true });
  const rest = first.heldBy ? [] : await Promise.all(others.map(check));
  await starting;
  const checks = [first, ...rest];
  const bad = checks.filter((check) => check.problem);
  if (bad.length === 0) return new Map(checks.map((check) => [check.host.name, check]));
  await releaseLeases(ctx, checks.filter((check) => check.probe?.taken?.taken).map((check) => check.host), take.id);
  for (const check of bad) ctx.out.error(`${check.host.name}: ${check.problem}`);
  const held = bad.find((check) => check.heldBy);
  throw new SwitchyardError(held ? `another fleet command holds the fleet: ${held.host.name} ${held.problem}` : `preflight failed on ${bad.length} of ${hosts.length} host(s): ${bad.map((check) => check.host.name).join(', ')}`, {
    untouched: 'nothing was changed on any host',
    next: held ? 'wait for it to finish (its lease expires if its controller died), then run this again' : 'fix what each line above names, then run this again',
    exitCode: held ? 75 : 1,
  });
}

/**
 * Each host's session gives its lease back and ends. `record`: kept in each host's fleet-history.jsonl;
 * its reason redacted here (the host knows none of the controller's secrets), then cut.
 */
export async function releaseLeases(
  ctx: FleetContext,
  hosts: FleetHost[],
  id: string,
  record?: { command: string; holder: string; commit: string | null; outcome: string; reason?: string },
): Promise<void> {
  const kept = record ? { record: { ...record, ...(record.reason ? { reason: ctx.out.redact(record.reason).slice(0, 300) } : {}) } } : {};
  const results = await Promise.all(hosts.map((host) => ctx.remote.ask(host, { op: 'release', id, ...kept }, { timeoutMs: 20_000 })));
  // A lease left on a host blocks the next fleet command there until it expires: say so, where.
  results.forEach((result, index) => {
    if (result.exitCode !== 0) {
      const why = result.reached ? result.tracker.tail(1).join(' ') || `exit code ${result.exitCode}` : 'the host could not be reached';
      ctx.out.warn(`its fleet lease ${id} could not be given back (${why}): it expires by itself within ${LEASE_TTL_S} s, and the next fleet command waits for it or takes it over from this machine`, hosts[index].name);
    }
  });
}

/** A deploy or rollback with `--json` (`words`: the command, then its own words) in the host's session, its events as they come. */
export async function runOnHost(ctx: FleetContext, host: FleetHost, words: string[], env: Record<string, string>): Promise<RemoteResult> {
  return ctx.remote.ask(host, { op: 'run', argv: [words[0], '--json', ...words.slice(1)], env }, { onEvent: (event) => ctx.out.hostEvent(host.name, event) });
}

/** Each host's preflight, by host. */
export function hostChecks(hosts: FleetHost[], checks: Map<string, HostCheck>): Map<FleetHost, HostCheck | undefined> {
  return new Map(hosts.map((host) => [host, checks.get(host.name)]));
}

function hostResult(result: RemoteResult): HostResult {
  if (result.exitCode === 0) return { ok: true, switched: true };
  return {
    ok: false,
    switched: false,
    step: result.reached ? (result.tracker.failedStep() ?? 'deploy') : 'ssh',
    message: result.tracker.errorMessage() ?? (result.reached ? `exit code ${result.exitCode}` : 'the connection failed'),
    tail: result.tracker.tail(5),
  };
}

export type ChangeOptions = { command: 'deploy' | 'rollback'; revision?: string };

export async function rollingChange(ctx: FleetContext, options: ChangeOptions): Promise<number> {
  const { config, out } = ctx;
  const hosts = config.hosts;
  const id = newFleetId();
  const holder = `${ctx.user}@${os.hostname()}`;
  const take: Take = { id, command: options.command, holder, ttlS: LEASE_TTL_S };
  out.info(`fleet ${options.command} ${id}: ${hosts.length} host(s), ${shapeLine(config)}, on failure ${config.onFailure}`);
  const resolving = options.command === 'deploy' || Boolean(options.revision);
  const checks = await preflightAndLease(ctx, hosts, take, resolving ? (options.revision ?? '') : undefined);
  let commit: string | null = null;
  let outcome = 'failed';
  let reason: string | undefined;
  const drains = config.drainCmd ? drainSteps(ctx) : undefined;
  try {
    // One SHA for every host, resolved once before any host changes (by the anchor's preflight, which fetches REPO).
    if (resolving) {
      const [anchor] = leaseOrder(hosts);
      commit = resolvedCommit(checks.get(anchor.name), anchor, options.revision);
      out.info(`${options.revision ?? 'DEPLOY_BRANCH'} → ${commit}`);
    }
    const env = { SWITCHYARD_FLEET_ID: id };
    const before = new Map([...checks].map(([name, check]) => [name, check.probe?.commit ?? null]));
    const ordered = releaseCmdOrder(planBatches(hosts, config.batch, config.canaryHosts), hostChecks(hosts, checks), options.command === 'deploy' ? commit : null);
    const batches = ordered.batches;
    if (ordered.runsOn) out.info(`RELEASE_CMD runs once, in ${ordered.runsOn.name}'s deploy, which goes first and alone; the others deploy with --no-release-cmd`);
    const change = async (host: FleetHost, words: string[]) => hostResult(await runOnHost(ctx, host, words, env));
    const result = await rollout(batches, {
      interrupted: () => interruptedBy(ctx),
      onBatch: (batch, index) => out.info(`batch ${index + 1} of ${batches.length}: ${batch.map((host) => host.name).join(', ')}`),
      change: async (host) => {
        // A host that already serves the SHA (a rollout resumed after its controller died) is left as it is.
        if (commit && before.get(host.name) === commit) {
          out.info(`already serves ${short(commit)}; nothing to do there`, host.name);
          return { ok: true, switched: false };
        }
        const flags = options.command === 'deploy' ? ordered.flags(host) : [];
        return change(host, [options.command, ...flags, ...(commit ? ['--', commit] : [])]);
      },
      ...(config.checkCmd ? { check: (batch) => runCheck(ctx, batch, commit) } : {}),
      ...(config.pauseMs > 0 ? { pause: (batch, index) => pauseThenRead(ctx, batch, commit, index) } : {}),
      ...(drains ? { drain: drains.drain } : {}),
      revert: async (host) => {
        const previous = before.get(host.name);
        if (!previous) return { ok: false, switched: true, message: 'it served nothing before this rollout: nothing to go back to' };
        out.info(`reverting to ${short(previous)}`, host.name);
        return change(host, ['rollback', '--', previous]);
      },
    }, config.onFailure, failureBudget(hosts.length, config.maxFailPercent));
    outcome = !result.ok ? (config.onFailure === 'revert' && result.revertFailed.length === 0 ? 'reverted' : 'halted') : result.tolerated.length ? 'partial' : 'success';
    if (result.ok && result.tolerated.length) {
      reason = `fleet ${options.command} ${short(commit)} went on past ${result.tolerated.length} failed host(s), within FLEET_MAX_FAIL=${config.maxFailPercent}%: ${toleratedList(result)}`;
      throw new SwitchyardError(reason, {
        untouched: 'each failed host serves what it served before; the others serve the new release: the fleet serves two versions',
        next: 'fix the named hosts (their `./deploy.ts history --show last`), then run this again: hosts already on the release are left as they are',
      });
    }
    if (result.ok) {
      out.success(`fleet ${options.command} ${commit ? short(commit) : ''} done on ${hosts.length} host(s): ${hosts.map((host) => host.name).join(', ')}`.replace('  ', ' '));
      return 0;
    }
    reason = failureLine(result, options.command, commit, config.onFailure);
    throw new SwitchyardError(reason, { details: result.failure!.tail, next: nextStep(result, config.onFailure), exitCode: result.failure!.step === 'interrupted' ? 130 : 1 });
  } catch (error) {
    if (!reason) reason = isSwitchyardError(error) ? error.message : String(error);
    throw error;
  } finally {
    await drains?.readyLeft();
    await releaseLeases(ctx, hosts, id, { command: options.command, holder, commit, outcome, reason });
  }
}

async function runCheck(ctx: FleetContext, batch: FleetHost[], commit: string | null): Promise<HostResult> {
  const tail: string[] = [];
  try {
    await runShell(ctx.config.checkCmd, {
      env: { ...ctx.env, SWITCHYARD_COMMIT: commit ?? '', SWITCHYARD_HOSTS: batch.map((host) => host.name).join(' ') },
      timeoutMs: 120_000,
      signal: ctx.signal,
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 5) tail.shift();
        ctx.out.output('check', line);
      },
    });
    ctx.out.info(`FLEET_CHECK_CMD passed after ${batch.map((host) => host.name).join(', ')}`);
    return { ok: true, switched: false };
  } catch (error) {
    return { ok: false, switched: false, step: 'check', message: `FLEET_CHECK_CMD failed after ${batch.map((host) => host.name).join(', ')}: ${isSwitchyardError(error) ? error.message : String(error)}`, tail };
  }
}

/** The one line: the host, the step that failed there, what was put back or left. */
function failureLine(result: RolloutResult<FleetHost>, command: string, commit: string | null, onFailure: string): string {
  const failure = result.failure!;
  const where = failure.host ? `on ${failure.host.name} at its ${failure.step} step` : `at the ${failure.step}`;
  const names = (hosts: FleetHost[]) => hosts.map((host) => host.name).join(', ');
  const parts = [failure.step === 'interrupted' ? `fleet ${command} ${short(commit)} stopped, ${failure.message}, once the hosts deploying then had finished` : `fleet ${command} ${short(commit)} failed ${where}: ${failure.message}`];
  if (onFailure === 'revert') {
    parts.push(result.reverted.length ? `reverted ${names(result.reverted)} to the release each served before` : 'no host had switched');
    if (result.revertFailed.length) parts.push(`COULD NOT revert ${result.revertFailed.map(({ host, result: failed }) => `${host.name} (${failed.message})`).join(', ')}`);
  } else if (result.changed.length) parts.push(`FLEET_ON_FAILURE=halt: ${names(result.changed)} left on ${short(commit)}, the rest on their release: the fleet serves two versions`);
  if (result.untouched.length) parts.push(`not touched: ${names(result.untouched)}`);
  if (result.tolerated.length) parts.push(`failed before it: ${toleratedList(result)}`);
  return parts.join('; ');
}

function nextStep(result: RolloutResult<FleetHost>, onFailure: string): string {
  if (result.failure?.step === 'interrupted') return 'run the same fleet command again to roll out to every host; `./deploy.ts fleet status` shows where each host is';
  if (onFailure === 'halt' && result.changed.length) return 'see `./deploy.ts fleet status`; fix the release and deploy again, or `./deploy.ts fleet rollback` to put every host back';
  return 'fix the cause on the named host (its `./deploy.ts history --show last`), then run this again';
}

/** The batches, the canary, the pause and the failures allowed, as the first line says them. Pure. */
export function shapeLine(config: FleetConfig): string {
  const parts = [`batches of ${config.batchText}`];
  if (config.canaryHosts > 0 && config.canaryHosts !== batchWidth(config.batch, config.hosts.length)) parts.unshift(`a first batch of ${config.canaryHosts} (FLEET_CANARY_HOSTS)`);
  if (config.pauseMs > 0) parts.push(`FLEET_PAUSE ${config.pauseText} between them`);
  if (config.maxFailPercent > 0) parts.push(`up to ${config.maxFailPercent}% of the hosts may fail (FLEET_MAX_FAIL)`);
  return parts.join(', ');
}

function toleratedList(result: RolloutResult<FleetHost>): string {
  return result.tolerated.map(({ host, result: failed }) => `${host.name} (${failed.step ?? 'deploy'}: ${failed.message ?? 'failed'})`).join(', ');
}
