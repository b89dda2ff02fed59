import path from 'node:path';
import { abortOnSignals, configDir, hasFlag, type CommandIo } from '../lib/cli/command.ts';
import { defineCommand, type Command } from '../lib/cli/define-command.ts';
import { synopsis } from '../lib/cli/options.ts';
import { asInvoked } from '../lib/cli/program-name.ts';
import { FLEET_SPECS, SPECS } from './specs.ts';
import { resolveConfig, suggestKey } from '../lib/config/config.ts';
import { readSettings } from '../lib/config/settings.ts';
import { redactorFor } from '../lib/config/redact.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { parseFleetConfig, type FleetConfig } from '../lib/fleet/config.ts';
import { createOutput, type FleetOutput } from '../lib/fleet/output.ts';
import { checkHosts, LEASE_TTL_S } from '../lib/fleet/preflight.ts';
import { blueGreenChange } from '../lib/fleet/blue-green.ts';
import { createRemote } from '../lib/fleet/remote.ts';
import { fleetDryRun } from '../lib/fleet/dry-run.ts';
import { rollingChange } from '../lib/fleet/rolling.ts';
import type { FleetContext } from '../lib/fleet/context.ts';
import { mergeHistories, printFleetStatus, readFleetStatus } from '../lib/fleet/status.ts';
import { switchyardVersion } from '../lib/project-dir.ts';
import { currentUser } from '../lib/record/lock.ts';
import { HOST_SIDE } from './fleet-host.ts';
import { sessionCommand } from './fleet-session.ts';

type FleetSub = keyof typeof FLEET_SPECS;

/** What each subcommand's --help says under its Usage line (its options come from FLEET_SPECS). */
const HELPS: Record<FleetSub, string> = {
  deploy: `Deploys COMMIT (default: the newest of each host's DEPLOY_BRANCH) to every host of FLEET_HOSTS, each
with its own zero-downtime cycle, over the system's ssh. COMMIT is resolved once to a full SHA (on the
host first in name order, after a fetch); every host deploys that SHA. First a preflight: every host is reached
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

RELEASE_CMD (migrations), when the hosts set it, runs once: the first host deploys alone, ahead of
the others, and its deploy runs it before its switch; every other host deploys with --no-release-cmd
(blue-green: the same within the idle group).

Ctrl-C (or SIGTERM) stops the rollout at the end of the batch running: its hosts finish their own
cycle, then FLEET_ON_FAILURE applies as at a failure (blue-green: no switch); exit code 130. A second
Ctrl-C exits at once; the hosts then finish on their own and the lease expires. A dropped SSH session
(SIGHUP, or the output closed under it) stops the rollout as a first Ctrl-C does; fleet history says so.

--dry-run prints the batches (blue-green: the idle group, then the switch) and each host's plan for
the SHA COMMIT resolves to on the host first in name order (after a fetch there, as the real preflight does), and
changes nothing else (no lease). A COMMIT that does not resolve is an error (exit 1).
--json prints one JSON event per line, each host's carrying "host"; FLEET_CHECK_CMD's lines are
output events of the step "check".

Exit code 0 on success; 75 when another fleet command holds a host; 130 when interrupted; 1 otherwise.
`,
  rollback: `Rolls every host back, batch by batch as fleet deploy does: to COMMIT (a kept release on each host),
or without COMMIT each host to its own previous good release. Inside a host's bake window this is a
switch only. Preflight, lease, FLEET_ON_FAILURE and exit codes as for fleet deploy.

Blue-green: the switch back to the other group only (a COMMIT is refused, exit 2), no host deploys. With this
controller's record of its last switch (.switchyard-fleet.json beside its .env) the front moves first,
FLEET_SWITCH_CHECK_CMD must pass once, then each host confirms the record in one call (its live group,
no deploy running, the warm group's commit) and records the new group; a host that does not runs the
switch back at once (exit 1; 75 when another fleet command holds it). Without a record: every host is
read first, then the switch.
`,
  status: `Reads every host in parallel (each bounded): live slot, commit, health, bake window, live group,
a fleet lease held. Warns when the fleet serves more than one version or a host disagrees.
`,
  doctor: `Checks, changing nothing, what a fleet deploy's preflight checks: the controller's FLEET_ keys, each
host reached over ssh without a prompt, its Switchyard version, its configuration, its deploy lock and
fleet lease. Each ✖ names its fix. Exit code 1 when any check fails.
`,
  history: `The fleet deploys and rollbacks, read from every host and merged by fleet command: when, who, which
commit, and how it ended on each host.
`,
};

const subcommandList = () => {
  const rows = Object.values(FLEET_SPECS).map((spec) => [synopsis(spec).slice('fleet '.length), spec.summary] as const);
  const width = Math.max(...rows.map(([words]) => words.length)) + 3;
  return rows.map(([words, summary]) => `  ${words.padEnd(width)}${summary}`).join('\n');
};

const FLEET_HELP = `Usage: ./deploy.ts fleet <deploy|rollback|status|doctor|history> [options]

A fleet of hosts, each with its own Switchyard set-up, changed from one controller over ssh. The
controller needs only the FLEET_ keys (.env.example, docs/fleet.md). Each subcommand has --help.

${subcommandList()}
`;

/** The controller's lines, and the end of the operator's session: a dropped SSH session (stdout closed, or SIGHUP with a TTY) stops the rollout as a first Ctrl-C does. */
type ControllerOutput = FleetOutput & { sessionGone: AbortSignal };

function controllerOutput(_io: CommandIo, json: boolean): ControllerOutput {
  const gone = new AbortController();
  return Object.assign(createOutput({ json, onGone: (reason) => gone.abort(reason) }), { sessionGone: gone.signal });
}

/** The FLEET_ config and an ssh connection to each host for `work`; the connections are closed after it, whatever happens. */
async function withFleet(io: CommandIo, out: FleetOutput, work: (ctx: FleetContext) => Promise<number>): Promise<number> {
  const config = loadFleetConfig(io, out);
  const ctx: FleetContext = { config, remote: createRemote(config, io.env), out, user: currentUser(io.env), env: io.env };
  try {
    return await work(ctx);
  } finally {
    await ctx.remote.close(config.hosts);
  }
}

const change = (sub: 'deploy' | 'rollback') =>
  defineCommand({
    spec: FLEET_SPECS[sub],
    help: HELPS[sub],
    output: controllerOutput,
    async run({ io, flags, args, reporter: out }) {
      return withFleet(io, out, async (ctx) => {
        if ('dry-run' in flags && flags['dry-run']) return await fleetDryRun(ctx, args.COMMIT);
        ctx.signal = AbortSignal.any([stopOnSignal(out), out.sessionGone]);
        if (ctx.config.strategy === 'blue-green') return await blueGreenChange(ctx, { command: sub, revision: args.COMMIT });
        return await rollingChange(ctx, { command: sub, revision: args.COMMIT });
      });
    },
  });

const FLEET_COMMANDS: Record<FleetSub, Command> = {
  deploy: change('deploy'),
  rollback: change('rollback'),
  status: defineCommand({
    spec: FLEET_SPECS.status,
    help: HELPS.status,
    output: controllerOutput,
    async run({ io, reporter: out }) {
      return withFleet(io, out, async ({ config, remote }) => {
        const status = await readFleetStatus(remote, config.hosts, config.strategy === 'blue-green' ? config.groups : undefined);
        if (out.json) out.document(status);
        else printFleetStatus(out, status);
        return 0;
      });
    },
  }),
  doctor: defineCommand({
    spec: FLEET_SPECS.doctor,
    help: HELPS.doctor,
    output: controllerOutput,
    async run({ io, reporter: out }) {
      return withFleet(io, out, doctor);
    },
  }),
  history: defineCommand({
    spec: FLEET_SPECS.history,
    help: HELPS.history,
    output: controllerOutput,
    check({ flags }) {
      historyCount(flags.count);
    },
    async run({ io, flags, reporter: out }) {
      return withFleet(io, out, async ({ config, remote }) => {
        const checks = await checkHosts(remote, config.hosts);
        const perHost = checks.map((check) => ({ host: check.host.name, records: check.probe?.history ?? [] }));
        const entries = mergeHistories(perHost).slice(-historyCount(flags.count));
        if (out.json) out.document(entries);
        else if (entries.length === 0) out.info('no fleet deploys yet');
        else for (const entry of entries) out.info(`${entry.at}  ${entry.command.padEnd(8)} ${(entry.commit?.slice(0, 7) ?? '-').padEnd(8)} by ${entry.holder}  ${Object.entries(entry.outcomes).map(([host, outcome]) => `${host}: ${outcome}`).join(', ')}  [${entry.id}]`);
        for (const check of checks) if (check.problem && !check.heldBy) out.warn(`${check.host.name}: ${check.problem}`);
        return 0;
      });
    },
  }),
};

/** `fleet <subcommand>`: each subcommand is a command of its own (its --help, options, arguments); the host side's are run by the controller over ssh. */
export const command: Command = {
  name: SPECS.fleet.name,
  summary: SPECS.fleet.summary,
  help: FLEET_HELP,
  async run(io) {
    const [sub, ...rest] = io.argv;
    const subIo = { ...io, argv: rest };
    if (sub && Object.hasOwn(FLEET_COMMANDS, sub)) return FLEET_COMMANDS[sub as FleetSub].run(subIo);
    if (hasFlag(io.argv, '--help', '-h') || !sub) {
      process.stdout.write(asInvoked(FLEET_HELP, io.program));
      return sub ? 0 : 2;
    }
    if (Object.hasOwn(HOST_SIDE, sub)) return HOST_SIDE[sub].run(subIo);
    if (sub === 'session') return sessionCommand.run(subIo);
    createOutput({ json: hasFlag(rest, '--json') }).error(`unknown fleet command ${JSON.stringify(sub)}; nothing was changed; run ./deploy.ts fleet --help for the list`);
    return 2;
  },
};

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

/** fleet history -n: how many fleet commands to show. */
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
  out.redactWith(redactorFor(hostConfig));
  for (const key of hostConfig.unknownKeys) {
    const suggestion = suggestKey(key);
    out.warn(`unknown key ${key} in ${hostConfig.envFile}${suggestion ? ` (did you mean ${suggestion}?)` : ''}; it is ignored`);
  }
  return parseFleetConfig((key) => settings.env[key] ?? settings.fileValues[key], settings.envFile);
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
