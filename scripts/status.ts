import { existsSync, renameSync } from 'node:fs';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { bakeLogFile, describeBake, isBakeWatcher } from '../lib/cycle/bake.ts';
import { canaryReport, describeCanary } from '../lib/canary/describe.ts';
import { describeJudgement, readJudgement } from '../lib/cycle/bake-judge.ts';
import { watcherLines } from '../lib/cycle/retire.ts';
import type { Config, SlotName } from '../lib/config/config.ts';
import { shortCommit } from '../lib/record/state-shape.ts';
import { gatherFacts, reconcile } from '../lib/cycle/recover.ts';
import { formatDuration } from '../lib/config/duration.ts';
import { acquireLock, currentUser, describeTakeover, releaseLock } from '../lib/record/lock.ts';
import { readHead } from '../lib/release/git.ts';
import { createSlotProcesses } from '../lib/slot/process-manager.ts';
import { assessHost } from '../lib/record/reconcile.ts';
import { downAdvice, liveSlotDown } from '../lib/record/down-advice.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { SLOTS, slotDir } from '../lib/slot/slots.ts';
import { describeEndpoints, slotEndpoints } from '../lib/slot/endpoints.ts';
import { describeProbe, healthTarget, probeTarget } from '../lib/slot/health.ts';
import { runningPid } from '../lib/slot/app-process.ts';
import { slotInstances } from '../lib/slot/process-manager.ts';
import { loadState, readStateFile, statePath } from '../lib/record/state.ts';
import { initialState, type HistoryEntry, type State } from '../lib/record/state-shape.ts';
import { createSwitch } from '../lib/traffic/index.ts';
import { rebuiltReleases, releaseFolders } from '../lib/record/rebuild-releases.ts';
import { StateStore } from '../lib/record/store.ts';
import { paths } from '../lib/host/paths.ts';
import { deployerName } from '../lib/host/deployer.ts';

// --json here means one report object on stdout; warnings stay text on stderr.
export const command = defineCommand({
  spec: SPECS.status,
  config: true,
  json: 'document',
  help: `Shows which slot is live, each slot's commit, port (or socket), pid, uptime and health (probed now;
with INSTANCES > 1 one line per process under its slot), where the
nginx upstream points, and the last deploy. When the state file and the host disagree (a recorded
pid that is dead, an upstream that points at the other slot, a process the state does not know),
it says so and how the next deploy will reconcile it.

  --json     the same as one JSON object
  --repair   reconcile now (takes the deploy lock); a corrupt state file is moved aside and rebuilt
             from the slot folders, the running processes and the nginx upstream
`,
  async run({ io, flags, config, reporter }) {
    const traffic = createSwitch(config);
    if (flags.repair === true) {
      const lock = acquireLock(config.deployRoot, 'status --repair', currentUser(io.env));
      if (lock.takenOver) reporter.warn(describeTakeover(lock.takenOver));
      try {
        const state = await loadOrRebuild(config, (message) => reporter.warn(message));
        const ctx = { config, reporter, env: {}, deployer: deployerName(io.env), signal: new AbortController().signal };
        const { state: repaired } = await reconcile(ctx, traffic, state);
        // A state rebuilt from a corrupt file is on disk only from here when reconcile found nothing to put right.
        new StateStore(config.deployRoot, repaired, reporter.redactor).apply();
        const after = await gatherFacts(config, traffic, createSlotProcesses(config, {}), repaired);
        const down = liveSlotDown(repaired, after);
        if (down) throw new SwitchyardError(`the state was reconciled, but the site is still down: ${downAdvice(down)}`, { exitCode: 1 });
        reporter.success(`state repaired: slot ${repaired.live ?? 'none'} is live`);
      } finally {
        releaseLock(lock);
      }
    }
    const state = loadState(config.deployRoot, config.appName, config.ports);
    const facts = await gatherFacts(config, traffic, createSlotProcesses(config, {}), state);
    const assessment = assessHost(state, facts);
    const now = Date.now();
    // One row per process of a pool, probed at once; a single process is the slot's own row.
    const pools =
      config.instances > 1
        ? Object.fromEntries(await Promise.all(SLOTS.map(async (slot) => [slot, await describeInstances(config, slot)] as const)))
        : undefined;
    const slots = Object.fromEntries(
      SLOTS.map((slot) => {
        const recorded = state.slots[slot];
        const pid = facts.slots[slot].runningPid ?? null;
        const startedAt = pid && recorded.startedAt ? Date.parse(recorded.startedAt) : undefined;
        return [slot, {
          live: state.live === slot,
          port: config.slotListen === 'port' ? config.ports[slot] : null,
          endpoints: slotEndpoints(config, slot).map((endpoint) => (endpoint.kind === 'port' ? endpoint.port : endpoint.path)),
          ...(pools ? { instances: pools[slot] } : {}),
          commit: recorded.commit,
          builtAt: recorded.builtAt,
          pid,
          startedAt: pid ? recorded.startedAt : null,
          uptimeMs: startedAt ? now - startedAt : null,
          healthy: facts.slots[slot].healthy,
        }];
      }),
    ) as Record<
      SlotName,
      {
        live: boolean;
        port: number | null;
        endpoints: (number | string)[];
        instances?: InstanceReport[];
        commit: string | null;
        builtAt: string | null;
        pid: number | null;
        startedAt: string | null;
        uptimeMs: number | null;
        healthy: boolean;
      }
    >;
    const report = {
      app: config.appName,
      live: state.live,
      next_deploy: state.next_deploy,
      switch: config.switchKind,
      switchSlot: facts.switchSlot ?? null,
      upstreamPort: facts.switchSlot && config.slotListen === 'port' ? config.ports[facts.switchSlot] : null,
      slots,
      lastEvent: state.history.at(-1) ?? null,
      inProgress: state.journal,
      bake: state.bake
        ? {
            ...state.bake,
            watcherRunning: isBakeWatcher(state.bake.watcherPid),
            lastWindow: readJudgement(config.deployRoot) ?? null,
            lines: state.bake.watcherPid ? watcherLines(bakeLogFile(config.deployRoot), state.bake.watcherPid) : [],
          }
        : null,
      canary: canaryReport(state, config.deployRoot),
      disagreements: assessment.findings,
    };
    if (flags.json === true) {
      reporter.document(report);
      return 0;
    }
    const where = (slot: SlotName) => describeEndpoints(slotEndpoints(config, slot));
    reporter.info(`${config.appName}: live slot ${state.live ?? 'none'}${state.live ? ` (${where(state.live)})` : ''}, next deploy goes to slot ${state.next_deploy}; switch: ${config.switchKind}`);
    const column = (endpoint: number | string) => String(endpoint).padEnd(6);
    reporter.info('slot  role  commit   port   pid      uptime   health');
    for (const slot of SLOTS) {
      const info = slots[slot];
      const role = info.live ? 'live' : state.canary?.slot === slot ? 'canary' : 'idle';
      const health = info.pid ? (info.healthy ? 'healthy' : 'UNHEALTHY') : 'stopped';
      const endpoint = info.endpoints.length > 1 ? `×${info.endpoints.length}` : info.endpoints[0];
      reporter.info(`${slot.padEnd(5)} ${role.padEnd(5)} ${shortCommit(info.commit).padEnd(8)} ${column(endpoint)} ${String(info.pid ?? '-').padEnd(8)} ${(info.uptimeMs !== null ? formatDuration(info.uptimeMs) : '-').padEnd(8)} ${health}`);
      for (const instance of info.instances ?? []) {
        const instanceHealth = instance.pid ? (instance.healthy ? 'healthy' : `UNHEALTHY (${instance.last})`) : 'stopped';
        reporter.info(`  ${instance.name.padEnd(20)} ${column(instance.endpoint)} ${String(instance.pid ?? '-').padEnd(8)} ${instanceHealth}`);
      }
    }
    const pointsAt = facts.switchSlot ? `slot ${facts.switchSlot} (${where(facts.switchSlot)})` : facts.switchSlot === null ? "neither slot's address" : undefined;
    if (config.switchKind === 'nginx-reload') reporter.info(`nginx upstream ${config.nginx.upstreamFile} → ${pointsAt ?? 'not written yet'}`);
    if (config.switchKind === 'command') reporter.info(`SWITCH_CMD ${config.command.switchCmd}${config.command.checkCmd.trim() ? `; SWITCH_CHECK_CMD ${config.command.checkCmd}` : ''} (Switchyard cannot read where the load balancer sends traffic: after an interrupted command the next command runs SWITCH_CMD again for the live slot)`);
    if (config.switchKind === 'nginx-live-file') reporter.info(`nginx live-file in ${config.nginx.liveDir} → ${pointsAt ?? 'none yet'}`);
    const bake = describeBake(state);
    if (bake) reporter.info(bake);
    const judged = state.bake && describeJudgement(config.deployRoot, state.bake);
    if (judged) reporter.info(judged);
    for (const line of report.bake?.lines ?? []) reporter.info(`  ${line}`);
    for (const line of report.canary ? describeCanary(report.canary) : []) reporter.info(line);
    const last = report.lastEvent;
    if (last) reporter.info(describeLastEvent(last));
    if (state.journal && facts.journalHolderAlive) reporter.info(`a ${state.journal.command} (pid ${state.journal.pid}) is running now, in its "${state.journal.phase}" phase`);
    for (const finding of assessment.findings) reporter.warn(finding);
    const down = liveSlotDown(assessment, facts);
    if (down) reporter.warn(downAdvice(down));
    else if (assessment.findings.length > 0) {
      reporter.info(`the next deploy or rollback reconciles this: live becomes slot ${assessment.live ?? 'none'}${assessment.stop.length ? `, leftover slot(s) ${assessment.stop.join(', ')} are stopped` : ''}${assessment.reswitch ? ', the switch is applied again' : ''}; or run ./deploy.ts status --repair now`);
    }
    return 0;
  },
});

/** `last: deploy of "typo" failed before touching a slot ...: commit "typo" does not exist ...` rather than `deploy nothing to slot b`. */
function describeLastEvent(last: HistoryEntry): string {
  const who = `by ${last.user} at ${last.at}`;
  if (!last.commit && last.outcome !== 'success') {
    const what = last.command === 'deploy' ? `deploy of ${last.requested !== undefined ? JSON.stringify(last.requested) : 'DEPLOY_BRANCH'}` : last.command;
    return `last: ${what} ${last.outcome} before touching a slot (${who}, ${formatDuration(last.durationMs)})${last.reason ? `: ${last.reason}` : ''}`;
  }
  if (last.automatic && last.command === 'rollback') return `last: AUTOMATIC rollback to ${shortCommit(last.commit)} on slot ${last.slot} at ${last.at}, from ${shortCommit(last.previousCommit)}: ${last.reason ?? 'the new slot failed its health checks'}`;
  return `last: ${last.command} ${shortCommit(last.commit)} to slot ${last.slot} ${who}: ${last.outcome} in ${formatDuration(last.durationMs)}${last.reason ? ` (${last.reason})` : ''}`;
}

/** For --repair: only a state file that was read and is invalid is moved aside and rebuilt from what is on disk. */
async function loadOrRebuild(config: Config, warn: (message: string) => void): Promise<State> {
  const read = readStateFile(config.deployRoot, config.ports);
  const folders = releaseFolders(paths.releases(config.deployRoot));
  // A deleted state file with releases on disk is rebuilt too: else every release would be forgotten.
  if (read.kind !== 'invalid' && !(read.kind === 'missing' && folders.length > 0)) return loadState(config.deployRoot, config.appName, config.ports);
  if (read.kind === 'invalid') {
    const file = statePath(config.deployRoot);
    const aside = `${file}.broken-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(file, aside);
    warn(`the state file could not be used (${read.problem}) and was moved to ${aside}; rebuilding it`);
  } else warn(`there is no state file but ${folders.length} release folder(s) in ${paths.releases(config.deployRoot)}: rebuilding it`);
  const state = initialState(config.appName, config.ports);
  for (const slot of SLOTS) {
    const dir = slotDir(config, slot);
    if (!existsSync(`${dir}/.git`)) continue;
    try {
      state.slots[slot].commit = await readHead(dir, config.commandEnv);
    } catch {
      // No readable checkout: the slot holds no build.
    }
  }
  state.releases = rebuiltReleases(folders);
  if (folders.length > 0) warn(`${folders.length} release(s) taken back from ${paths.releases(config.deployRoot)} (their history is lost: roll back by name, ./deploy.ts rollback <commit>; one that was never built fully fails its health check and the live slot keeps serving)`);
  return state;
}

type InstanceReport = { name: string; endpoint: number | string; pid: number | null; healthy: boolean; last: string };

/** Each process of a slot's pool (INSTANCES > 1, builtin supervisor): its pid and its own health, probed now. */
async function describeInstances(config: Config, slot: SlotName): Promise<InstanceReport[]> {
  return Promise.all(
    slotInstances(config, slot).map(async (instance) => {
      const pid = runningPid(instance.files) ?? null;
      const result = pid ? await probeTarget(healthTarget(config, instance.endpoint)) : undefined;
      return {
        name: instance.name,
        endpoint: instance.endpoint.kind === 'port' ? instance.endpoint.port : instance.endpoint.path,
        pid,
        healthy: Boolean(result?.ok),
        last: result ? describeProbe(result) : 'not running',
      };
    }),
  );
}
