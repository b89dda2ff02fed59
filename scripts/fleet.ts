import path from 'node:path';
import { abortOnSignals, configDir, hasFlag, type CommandIo } from '../lib/cli/command.ts';
import { parseEvents } from '../lib/cli/events.ts';
import { parseCommandLine } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { readSettings, resolveConfig, suggestKey } from '../lib/config/config.ts';
import { announceSecrets } from '../lib/config/redact.ts';
import { isSwitchyardError, SwitchyardError } from '../lib/errors.ts';
import { planBatches } from '../lib/fleet/batches.ts';
import { parseFleetConfig, type FleetConfig } from '../lib/fleet/config.ts';
import { createOutput, type FleetOutput } from '../lib/fleet/output.ts';
import { checkHosts, LEASE_TTL_S, resolvedCommit } from '../lib/fleet/preflight.ts';
import { blueGreenChange, otherGroup, recordedGroup } from '../lib/fleet/blue-green.ts';
import type { FleetHost } from '../lib/fleet/hosts.ts';
import { createRemote } from '../lib/fleet/remote.ts';
import { rollingChange, shapeLine, type FleetContext } from '../lib/fleet/rolling.ts';
import { mergeHistories, printFleetStatus, readFleetStatus } from '../lib/fleet/status.ts';
import { switchyardVersion } from '../lib/project-dir.ts';
import { currentUser } from '../lib/record/lock.ts';
import { runHostSide } from './fleet-host.ts';

export const summary = 'deploy, roll back and read a fleet of hosts over SSH';

const HELPS: Record<string, string> = {
  deploy: `Usage: ./deploy.ts fleet deploy [COMMIT] [--dry-run] [--json]

Deploys COMMIT (default: the newest of each host's DEPLOY_BRANCH) to every host of FLEET_HOSTS, each
with its own zero-downtime cycle, over the system's ssh. COMMIT is resolved once to a full SHA (on the
first host, after a fetch); every host deploys that SHA. First a preflight: every host is reached
(bounded), runs the controller's Switchyard version, loads its config, runs no deploy, and takes the
fleet lease, which the host's own deploy, rollback and restart refuse while it is held. Any problem:
nothing changes on any host, one line per bad host.

Then a first batch of FLEET_CANARY_HOSTS hosts (default 1; 0: none), then batches of FLEET_BATCH
hosts (in parallel inside a batch; FLEET_DRAIN_CMD takes a batch's hosts out of the front's new
requests during it), FLEET_CHECK_CMD after each; with FLEET_PAUSE a wait after each
batch but the last, then every host of it must still serve COMMIT (one whose own bake judgement rolled
it back fails). The first failure stops the rollout (with FLEET_MAX_FAIL=P, the first that makes more
than P% of the hosts failed; a rollout that ends past failed hosts exits 1 naming them): with
FLEET_ON_FAILURE=revert every host already switched goes back to the release it served (inside its bake
window a switch only); with halt they are left as they are. Blue-green: the idle group all at once.

Ctrl-C (or SIGTERM) stops the rollout at the end of the batch running: its hosts finish their own
cycle, then FLEET_ON_FAILURE applies as at a failure (blue-green: no switch); exit code 130. A second
Ctrl-C exits at once; the hosts then finish on their own and the lease expires. A dropped SSH session
(SIGHUP, or the output closed under it) stops the rollout as a first Ctrl-C does; fleet history says so.

--dry-run prints the batches (blue-green: the idle group, then the switch) and each host's plan for
the SHA COMMIT resolves to on the first host (after a fetch there, as the real preflight does), and
changes nothing else (no lease). A COMMIT that does not resolve is an error (exit 1).
--json prints one JSON event per line, each host's carrying "host"; FLEET_CHECK_CMD's lines are
output events of the step "check".

Exit code 0 on success; 75 when another fleet command holds a host; 130 when interrupted; 1 otherwise.
`,
  rollback: `Usage: ./deploy.ts fleet rollback [COMMIT] [--json]

Rolls every host back, batch by batch as fleet deploy does: to COMMIT (a kept release on each host),
or without COMMIT each host to its own previous good release. Inside a host's bake window this is a
switch only. Preflight, lease, FLEET_ON_FAILURE and exit codes as for fleet deploy.

Blue-green: the switch back to the other group only (a COMMIT is refused, exit 2), no host deploys. With this
controller's record of its last switch (.switchyard-fleet.json beside its .env) the front moves first,
FLEET_SWITCH_CHECK_CMD must pass once, then each host confirms the record in one call (its live group,
no deploy running, the warm group's commit) and records the new group; a host that does not runs the
switch back at once (exit 1; 75 when another fleet command holds it). Without a record: every host is
read first, then the switch.
`,
  status: `Usage: ./deploy.ts fleet status [--json]

Reads every host in parallel (each bounded): live slot, commit, health, bake window, live group,
a fleet lease held. Warns when the fleet serves more than one version or a host disagrees.
`,
  doctor: `Usage: ./deploy.ts fleet doctor [--json]

Checks, changing nothing, what a fleet deploy's preflight checks: the controller's FLEET_ keys, each
host reached over ssh without a prompt, its Switchyard version, its configuration, its deploy lock and
fleet lease. Each ✖ names its fix. Exit code 1 when any check fails.
`,
  history: `Usage: ./deploy.ts fleet history [-n N] [--json]

The fleet deploys and rollbacks, read from every host and merged by fleet command: when, who, which
commit, and how it ended on each host.
`,
};

const FLEET_HELP = `Usage: ./deploy.ts fleet <deploy|rollback|status|doctor|history> [options]

A fleet of hosts, each with its own Switchyard set-up, changed from one controller over ssh. The
controller needs only the FLEET_ keys (.env.example, docs/fleet.md). Each subcommand has --help.

  deploy [COMMIT] [--dry-run] [--json]   rolling (or blue-green) deploy of one SHA to every host
  rollback [COMMIT] [--json]             every host back (blue-green: the switch only)
  status [--json]                        every host's live slot, commit, health; warns on two versions
  doctor [--json]                        what the preflight checks, changing nothing
  history [-n N] [--json]                the fleet commands, merged from every host
`;

/** deploy.ts prints a command's `help` for --help: here that of the subcommand given (`fleet deploy --help`). */
export const help = HELPS[process.argv[process.argv.indexOf('fleet') + 1] ?? ''] ?? FLEET_HELP;

const HOST_SIDE = ['probe', 'lease', 'resolve', 'group'];

export async function run(io: CommandIo): Promise<number> {
  const [sub, ...rest] = io.argv;
  const subIo = { ...io, argv: rest };
  if (sub && HOST_SIDE.includes(sub)) return runHostSide(sub, subIo);
  // A dropped SSH session (stdout closed, or SIGHUP with a TTY) stops the rollout as a first Ctrl-C does.
  const sessionGone = new AbortController();
  const out = createOutput({ json: hasFlag(rest, '--json'), onGone: (reason) => sessionGone.abort(reason) });
  if (!sub) {
    process.stdout.write(FLEET_HELP);
    return 2;
  }
  if (!HELPS[sub]) {
    out.error(`unknown fleet command ${JSON.stringify(sub)}; nothing was changed; run ./deploy.ts fleet --help for the list`);
    return 2;
  }
  if (hasFlag(rest, '--help', '-h')) {
    process.stdout.write(HELPS[sub]);
    return 0;
  }
  let ctx: FleetContext | undefined;
  try {
    const { flags, args } = parseCommandLine(SPECS.fleet, rest);
    const config = loadFleetConfig(subIo, out);
    ctx = { config, remote: createRemote(config, io.env), out, user: currentUser(io.env), env: io.env };
    if (sub === 'deploy' && flags['dry-run'] === true) return await dryRun(ctx, args[0]);
    if (sub === 'deploy' || sub === 'rollback') {
      if (args.length > 1) throw new SwitchyardError(`fleet ${sub} takes at most one commit; got ${args.length}`, { untouched: 'nothing was changed', exitCode: 2 });
      ctx.signal = AbortSignal.any([stopOnSignal(out), sessionGone.signal]);
      if (config.strategy === 'blue-green') return await blueGreenChange(ctx, { command: sub, revision: args[0] });
      return await rollingChange(ctx, { command: sub, revision: args[0] });
    }
    if (sub === 'status') {
      const status = await readFleetStatus(ctx.remote, config.hosts, config.strategy === 'blue-green' ? config.groups : undefined);
      if (out.json) out.document(status);
      else printFleetStatus(out, status);
      return 0;
    }
    if (sub === 'history') {
      const checks = await checkHosts(ctx.remote, config.hosts);
      const perHost = checks.map((check) => ({ host: check.host.name, records: check.probe?.history ?? [] }));
      const entries = mergeHistories(perHost).slice(-historyCount(flags.count as string | undefined));
      if (out.json) out.document(entries);
      else if (entries.length === 0) out.info('no fleet deploys yet');
      else for (const entry of entries) out.info(`${entry.at}  ${entry.command.padEnd(8)} ${(entry.commit?.slice(0, 7) ?? '-').padEnd(8)} by ${entry.holder}  ${Object.entries(entry.outcomes).map(([host, outcome]) => `${host}: ${outcome}`).join(', ')}  [${entry.id}]`);
      for (const check of checks) if (check.problem && !check.heldBy) out.warn(`${check.host.name}: ${check.problem}`);
      return 0;
    }
    return await doctor(ctx);
  } catch (error) {
    if (isSwitchyardError(error)) {
      out.error(error.line, error.details);
      return error.exitCode;
    }
    out.error(`unexpected failure: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await ctx?.remote.close(ctx.config.hosts);
  }
}

/**
 * Ctrl-C, SIGTERM or SIGHUP (a TTY's SSH session dropped) during a rollout: the hosts deploying go on to
 * the end of their own cycle (their ssh runs in its own process group, so the terminal's signals do not
 * reach it), no further batch starts, then FLEET_ON_FAILURE applies, the leases are given back and the
 * history records it. Stopping, not going on alone: nobody watches a rollout whose session is gone, and
 * its batches and checks were meant to be watched. A second Ctrl-C or SIGTERM exits at once, leaving
 * the leases to expire; a second SIGHUP changes nothing.
 */
function stopOnSignal(out: FleetOutput): AbortSignal {
  return abortOnSignals(
    (signal) => out.warn(`${signal} received: the hosts deploying now finish their own cycle, no further batch starts, then FLEET_ON_FAILURE applies; press Ctrl-C again to exit at once`),
    (signal) => {
      if (signal === 'SIGHUP') return;
      out.error(`${signal} received again: exiting now; the hosts deploying finish on their own, and the fleet lease on each expires within ${LEASE_TTL_S} s`);
      process.exit(130);
    },
    ['SIGINT', 'SIGTERM', 'SIGHUP'],
  );
}

function historyCount(given: string | undefined): number {
  const text = given ?? '10';
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1) throw new SwitchyardError(`-n must be a positive number; got ${JSON.stringify(text)}`, { untouched: 'nothing was changed', exitCode: 2 });
  return Number(text);
}

/** Only the FLEET_ keys are read here: the host keys (APP_NAME, DEPLOY_ROOT ...) are each host's own. */
function loadFleetConfig(io: CommandIo, out: FleetOutput): FleetConfig {
  const settings = readSettings(path.join(configDir(io.env), '.env'), io.env);
  const hostConfig = resolveConfig(settings, []);
  // The controller's secret-named keys (FLEET_API_TOKEN ...) and URL passwords, hidden in every line it prints or sends a host, as a host's are.
  announceSecrets(hostConfig.secrets);
  for (const key of hostConfig.unknownKeys) {
    const suggestion = suggestKey(key);
    out.warn(`unknown key ${key} in ${hostConfig.envFile}${suggestion ? ` (did you mean ${suggestion}?)` : ''}; it is ignored`);
  }
  return parseFleetConfig((key) => settings.env[key] ?? settings.fileValues[key], settings.envFile);
}

async function dryRun(ctx: FleetContext, revision: string | undefined): Promise<number> {
  const { config, out } = ctx;
  // As the real preflight: the first host fetches REPO and resolves the revision once, so a name that does not exist fails here.
  const checks = await checkHosts(ctx.remote, config.hosts, undefined, revision ?? '');
  const commit = checks[0].problem ? undefined : resolvedCommit(checks[0], config.hosts[0], revision);
  let failedPlans = 0;
  const plan = async (host: FleetHost) => {
    const check = checks.find((each) => each.host.name === host.name)!;
    if (check.problem) return out.warn(check.problem, host.name);
    out.info(`live ${check.probe?.live ?? 'none'} ${check.probe?.commit?.slice(0, 7) ?? ''}; its plan:`, host.name);
    const target = commit ?? revision;
    const result = await ctx.remote.query(host, ['deploy', '--dry-run', '--json', ...(target ? ['--', target] : [])], { timeoutMs: 60_000 });
    for (const event of parseEvents(result.stdout)) out.hostEvent(host.name, event);
    if (result.exitCode !== 0) {
      failedPlans++;
      out.warn(`its dry run failed (exit ${result.exitCode}): ${result.tracker.tail(2).join(' ') || 'see above'}`, host.name);
    }
  };
  const what = `fleet deploy ${revision ?? 'DEPLOY_BRANCH'} (dry run, nothing changes): ${config.hosts.length} host(s), ${config.strategy}`;
  if (config.strategy === 'blue-green') {
    // As blueGreenChange: the idle group deploys (the first deploy goes to A), then the switch; the live group stays warm.
    const recorded = recordedGroup(checks);
    if (recorded.problem) out.warn(`${recorded.problem}; a real deploy would stop there`);
    const to = recorded.group ? otherGroup(recorded.group) : 'A';
    const names = (hosts: FleetHost[]) => hosts.map((host) => host.name).join(', ');
    out.info(`${what}; live group ${recorded.group ?? 'none'}`);
    out.info(`group ${to} deploys, all at once: ${names(config.groups[to])}`);
    for (const host of config.groups[to]) await plan(host);
    out.info(`then FLEET_SWITCH_CMD moves traffic to group ${to}${config.switchCheckCmd ? ', confirmed by FLEET_SWITCH_CHECK_CMD' : ''}; group ${otherGroup(to)} (${names(config.groups[otherGroup(to)])}) stays warm on its release`);
  } else {
    const batches = planBatches(config.hosts, config.batch, config.canaryHosts);
    out.info(`${what}, ${shapeLine(config)}, on failure ${config.onFailure}${config.checkCmd ? `, FLEET_CHECK_CMD after each batch: ${config.checkCmd}` : ''}`);
    for (const [index, batch] of batches.entries()) {
      out.info(`batch ${index + 1} of ${batches.length}: ${batch.map((host) => host.name).join(', ')}`);
      for (const host of batch) await plan(host);
    }
  }
  const bad = checks.filter((check) => check.problem);
  if (bad.length) out.warn(`a real deploy would stop at the preflight: ${bad.length} host(s) to fix first`);
  return bad.length || failedPlans ? 1 : 0;
}

async function doctor(ctx: FleetContext): Promise<number> {
  const { config, out } = ctx;
  const checks = await checkHosts(ctx.remote, config.hosts);
  const rows = checks.map(({ host, problem, probe }) => ({
    host: host.name,
    ok: !problem,
    problem: problem ?? null,
    version: probe?.version ?? null,
    live: probe?.live ?? null,
    commit: probe?.commit ?? null,
  }));
  if (out.json) out.document({ controllerVersion: switchyardVersion(), hosts: rows });
  else {
    out.info(`controller: Switchyard ${switchyardVersion()}, ${config.hosts.length} host(s), ${config.strategy}${config.sshConfig ? `, ssh -F ${config.sshConfig}` : ''}`);
    for (const row of rows) out.info(row.ok ? `✔ reached, Switchyard ${row.version}, config loads, no deploy running; live ${row.live ?? 'none'} ${row.commit?.slice(0, 7) ?? ''}` : `✖ ${row.problem}`, row.host);
  }
  return rows.every((row) => row.ok) ? 0 : 1;
}
