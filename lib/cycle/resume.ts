import { otherSlot, type Config, type SlotName } from '../config/config.ts';
import { prepareDeployRoot } from '../host/deploy-root.ts';
import { formatDuration } from '../config/duration.ts';
import { SwitchyardError } from '../errors.ts';
import { describeEndpoints, slotEndpoints } from '../slot/endpoints.ts';
import { describeProbe, describeTargets, probeSlot, refuseTakenEndpoints, slotHealthTargets, waitUntilAllHealthy } from '../slot/health.ts';
import { acquireLock, describeTakeover, releaseLock } from '../record/lock.ts';
import type { Reporter } from '../cli/reporter.ts';
import type { SlotProcesses } from '../slot/process-manager.ts';
import { loadState } from '../record/state.ts';
import { shortCommit } from '../record/state-shape.ts';
import { openStore } from '../record/store.ts';
import { slotStarted } from '../record/transitions.ts';
import { createSwitch, trafficTarget, type TrafficSwitch } from '../traffic/index.ts';

/**
 * `resume`, after a reboot: the live slot of the state runs again from its own folder, answers its
 * health check, and the switch points at it (confirmed through nginx). Nothing else changes: no
 * fetch, no build, no hook, the idle slot is left as it is.
 */

export type ResumeContext = {
  config: Config;
  reporter: Reporter;
  processes: SlotProcesses;
  user: string;
  signal?: AbortSignal;
  traffic?: TrafficSwitch;
};

export type ResumeOutcome = { slot: SlotName | null; commit: string | null; started: boolean; pid?: number };

export async function resumeLive(ctx: ResumeContext): Promise<ResumeOutcome> {
  const { config, reporter, processes } = ctx;
  const initial = loadState(config.deployRoot, config.appName, config.ports);
  if (!initial.live) return { slot: null, commit: null, started: false };
  prepareDeployRoot(config);
  const lockStep = reporter.step('lock');
  const lock = acquireLock(config.deployRoot, 'resume', ctx.user);
  if (lock.takenOver) reporter.warn(describeTakeover(lock.takenOver));
  lockStep.done(`held by pid ${process.pid}`);
  try {
    const store = openStore(config, reporter.redactor);
    const { state } = store;
    const live = state.live;
    if (!live) return { slot: null, commit: null, started: false };
    if (state.journal) reporter.warn(`a ${state.journal.command} (pid ${state.journal.pid}) stopped during its "${state.journal.phase}" phase; resume brings back slot ${live} as the state records it, the next deploy or \`status --repair\` settles the rest`);
    const commit = state.slots[live].commit;
    const targets = slotHealthTargets(config, live);
    const where = describeEndpoints(slotEndpoints(config, live));
    let step = reporter.step('start');
    let pid = await processes.runningPid(live);
    const started = pid === undefined;
    if (pid === undefined) {
      await refuseTakenEndpoints(config, live);
      pid = await processes.start(live);
      store.apply(slotStarted(live, pid, new Date().toISOString()));
      step.done(`slot ${live} (${shortCommit(commit)}) on ${where} (pid ${pid}): ${config.startCmd}`);
    } else step.done(`slot ${live} (${shortCommit(commit)}) is already running (pid ${pid})`);

    step = reporter.step('health');
    const { result, target } = await waitUntilAllHealthy(targets, {
      timeoutMs: config.healthTimeoutMs,
      hasExited: () => processes.hasExited(live),
      onWait: (_elapsed, last) => step.progress(`waiting for ${describeTargets(targets)} (last: ${describeProbe(last)})`),
      signal: ctx.signal,
    });
    if (!result.healthy) {
      step.fail();
      const why = result.exited ? 'the app exited during boot' : `${target.label} did not answer 2xx within ${formatDuration(config.healthTimeoutMs)} (last: ${describeProbe(result.last)})`;
      throw new SwitchyardError(`resume failed: slot ${live} (${shortCommit(commit)}) failed its health check: ${why}`, {
        untouched: `it was left ${started ? 'started, restarting on crash,' : 'running'} and traffic was not touched`,
        next: `read its log (./deploy.ts logs ${live}), then deploy or roll back`,
        details: processes.logTail(live, 20).map((line) => `log: ${line}`),
      });
    }
    step.done(`${describeTargets(targets)} answered 2xx`);

    step = reporter.step('switch');
    const traffic = ctx.traffic ?? createSwitch(config);
    const other = otherSlot(live);
    const detail = await traffic.moveTo(
      trafficTarget(config, live, commit),
      trafficTarget(config, other, state.slots[other].commit),
      (message) => step.progress(message),
    );
    step.done(detail);
    const check = await probeSlot(config, live);
    if (!check.ok) throw new SwitchyardError(`resume failed: slot ${live} stopped answering right after the switch was confirmed (${describeProbe(check)})`, { details: processes.logTail(live, 20).map((line) => `log: ${line}`) });
    return { slot: live, commit, started, pid };
  } finally {
    releaseLock(lock);
  }
}
