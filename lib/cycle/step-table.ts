import { otherSlot, type Config, type SlotName } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { describeEndpoints, slotEndpoints } from '../slot/endpoints.ts';
import { describeTargets, slotHealthTargets } from '../slot/health-targets.ts';
import { paths } from '../host/paths.ts';
import { describeBuildCache, describeInstallCache } from '../release/cache-plan.ts';
import type { CycleCommand } from '../record/state-shape.ts';
import { canarySteps } from '../canary/share.ts';
import { checkDeadlineMs, CHECK_PASSES, drainsAtProxy, proxyName } from '../traffic/types.ts';

/**
 * The one table of a deploy, rollback or restart. The run walks it (journaling each step's name as
 * its phase before the step runs, and printing one line or JSON event per step), `--dry-run` prints
 * it, and the fault-injection tests kill a deploy at each of its steps. A new step is added here or
 * nowhere. Pure.
 */

export type FlowStepName = 'fetch' | 'checkout' | 'install' | 'build' | 'release' | 'start' | 'health' | 'canary' | 'switch' | 'bake' | 'drain' | 'record';
export type StepName = 'lock' | 'recover' | FlowStepName;
type HookName = 'begin' | 'pre_checkout' | 'pre_install' | 'post_install' | 'pre_start' | 'post_start' | 'running' | 'pre_stop' | 'post_stop' | 'end';

/** What the command is about to do, as far as it is known: the run learns the commit at `fetch`, the dry-run from the mirror. */
export type CycleFacts = {
  command: CycleCommand;
  target: SlotName;
  previous: SlotName | null;
  commit: string | null;
  /** Given on the command line (deploy: any revision; rollback: a kept release). */
  revision?: string;
  /** The commit is a kept, complete release and --rebuild was not given: nothing to check out, install or build. */
  reuse: boolean;
  /** A rollback to the slot the bake window keeps running: nothing to start. */
  warm: boolean;
  /** The state and the host disagree (a command killed earlier): recovery puts it right first. */
  recovers: boolean;
  /** deploy --rebuild (no install or build cache) and --cold (no build cache); only the dry run's descriptions read them. */
  rebuild?: boolean;
  cold?: boolean;
  /** deploy --release-cmd (run RELEASE_CMD even if it ran for the commit) or --no-release-cmd (a fleet host: it ran elsewhere). */
  releaseCmd?: ReleaseCmdChoice;
  /** When RELEASE_CMD last finished for the commit (the state's record), if it has; only the dry run's description reads it. */
  releaseCmdRanAt?: string;
  /** deploy: the share of users the new slot gets first (CANARY, --canary, --no-canary); 0 or absent: no canary. */
  canary?: number;
};

export type ReleaseCmdChoice = 'force' | 'skip';

export type StepSpec<Name extends StepName = StepName> = {
  name: Name;
  /** Hooks run right before the step (before its phase is journaled), and right after it. */
  before?: HookName;
  after?: HookName;
  /** Hooks the step runs itself, between its parts (drain: after the proxy drain, around SIGTERM). */
  inside?: HookName[];
  applies(facts: CycleFacts, config: Config): boolean;
  describe(facts: CycleFacts, config: Config): string;
};

const short = (commit: string | null) => (commit ? commit.slice(0, 12) : 'it');
const atProxy = (config: Config) => drainsAtProxy(config.switchKind);
// Only where the switch takes all traffic off the old slot: with passive or none it would keep serving.
/** A deploy with a canary stops after it: the watcher promotes (the ordinary switch) or rolls back later. */
export const canarying = (facts: CycleFacts, config: Config) =>
  facts.command === 'deploy' && facts.previous !== null && (facts.canary ?? 0) > 0 && config.switchKind === 'nginx-live-file';
export const baking = (facts: CycleFacts, config: Config) =>
  facts.previous !== null && config.bakeTimeMs > 0 && facts.command !== 'restart' && atProxy(config) && !canarying(facts, config);

/** Done by the command before the flow reads the state it acts on. */
export const PREPARE_STEPS: readonly StepSpec<'lock' | 'recover'>[] = [
  {
    name: 'lock',
    applies: () => true,
    describe: (_facts, config) => `take ${paths.lock(config.deployRoot)} (exit 75 if another command holds it)`,
  },
  {
    name: 'recover',
    applies: (facts) => facts.recovers,
    describe: () => 'the state and the host disagree (a command killed earlier): stop leftovers, apply the switch again',
  },
];

/** The flow itself, in order; the `begin` hook runs before the first step that applies, `end` after `record`. */
export const FLOW_STEPS: readonly StepSpec<FlowStepName>[] = [
  {
    name: 'fetch',
    applies: (facts) => facts.command === 'deploy',
    describe: (facts, config) =>
      `fetch ${config.repo} into ${paths.mirror(config.deployRoot)} and resolve ${facts.revision ?? `the newest commit of ${config.branch}`}${facts.commit ? ` (${short(facts.commit)} as of the last fetch)` : ''}${facts.reuse ? `; a kept release: no checkout, install or build (--rebuild to build it again)` : ''}`,
  },
  {
    name: 'checkout',
    before: 'pre_checkout',
    applies: (facts) => facts.command === 'deploy' && !facts.reuse,
    describe: (facts, config) =>
      `check ${short(facts.commit)} out into ${facts.commit ? paths.release(config.deployRoot, facts.commit) : `${paths.releases(config.deployRoot)}/<commit>`} (a new release; kept releases stay rollback targets)${config.sharedPaths.length ? `, link SHARED_PATHS from ${config.deployRoot}/shared` : ''}`,
  },
  {
    name: 'install',
    before: 'pre_install',
    applies: (facts) => facts.command === 'deploy' && !facts.reuse,
    describe: (facts, config) =>
      config.installCmd.trim() ? `/bin/sh -c ${JSON.stringify(config.installCmd)}${describeInstallCache(facts.rebuild)}` : 'skipped (INSTALL_CMD is empty)',
  },
  {
    name: 'build',
    after: 'post_install',
    applies: (facts) => facts.command === 'deploy' && !facts.reuse,
    describe: (facts, config) => (config.buildCmd.trim() ? `/bin/sh -c ${JSON.stringify(config.buildCmd)}, ${describeBuildCache(config, facts.rebuild ? '--rebuild' : facts.cold ? '--cold' : undefined)}` : 'skipped (BUILD_CMD is empty)'),
  },
  {
    name: 'release',
    applies: (facts, config) => facts.command === 'deploy' && config.releaseCmd.trim() !== '',
    describe: (facts, config) => describeRelease(facts, config),
  },
  {
    name: 'start',
    before: 'pre_start',
    after: 'post_start',
    applies: (facts) => !facts.warm,
    describe: (facts, config) =>
      `point ${paths.slot(config.deployRoot, facts.target)} at the release, check ${where(config, facts.target)} ${config.instances > 1 ? 'are' : 'is'} free, start ${config.instances > 1 ? `${config.instances} processes of ` : ''}slot ${facts.target} on ${config.slotListen === 'port' ? `${config.host}:` : ''}${where(config, facts.target)}: /bin/sh -c ${JSON.stringify(config.startCmd)}`,
  },
  {
    name: 'health',
    after: 'running',
    applies: (facts) => !facts.warm,
    describe: (facts, config) => `wait up to ${formatDuration(config.healthTimeoutMs)} for ${describeTargets(slotHealthTargets(config, facts.target))} to answer 2xx`,
  },
  {
    name: 'canary',
    applies: canarying,
    describe: (facts, config) => {
      const steps = canarySteps(facts.canary ?? 0, config.canarySteps);
      return `send ${steps[0]}% of users to slot ${facts.target} (create ${config.nginx.liveDir}/canary-${facts.target}/00..${String(steps[0] - 1).padStart(2, '0')}, no reload), confirm through ${config.nginx.checkUrl} with a bucket cookie, start a detached watcher (./deploy.ts canary-watch) and return; the watcher steps through ${steps.map((share) => `${share}%`).join(', ')} while nginx's figures of slot ${facts.target} pass against slot ${facts.previous}'s, then promotes (the switch${config.bakeTimeMs > 0 ? ', a bake window' : ''}) or rolls back by itself; ./deploy.ts promote or rollback end it sooner`;
    },
  },
  {
    name: 'switch',
    applies: (facts, config) => !canarying(facts, config),
    describe: (facts, config) => {
      const slot = facts.target;
      const other = otherSlot(slot);
      return `check slot ${slot} still answers, then ${{
        'nginx-reload': `write ${config.nginx.upstreamFile} (slot ${slot} first, slot ${other} as backup), run ${JSON.stringify(config.nginx.testCmd)} and ${JSON.stringify(config.nginx.reloadCmd)}, wait for the old nginx workers`,
        'nginx-live-file': `only if ${config.nginx.upstreamFile} must change: ${config.nginx.helper.length ? `${config.nginx.helper.join(' ')} install` : `write it, run ${JSON.stringify(config.nginx.testCmd)} and reload`}; check nginx's workers can reach ${config.nginx.liveDir}, create live-${slot} there and remove live-${other}`,
        passive: `nothing: nginx moves to slot ${slot} as the old slot stops listening`,
        command: `run SWITCH_CMD (/bin/sh -c ${JSON.stringify(config.command.switchCmd)}) with SWITCHYARD_SLOT=${slot} SWITCHYARD_PORT=${config.ports[slot]} SWITCHYARD_PREVIOUS_SLOT=${facts.previous ?? ''}${
          config.command.checkCmd.trim()
            ? `, then SWITCH_CHECK_CMD (/bin/sh -c ${JSON.stringify(config.command.checkCmd)}) until it exits 0 ${CHECK_PASSES} times in a row (at most ${formatDuration(checkDeadlineMs(config))})`
            : ' (no SWITCH_CHECK_CMD: nothing confirms it)'
        }; ${facts.previous ? `a failure runs SWITCH_CMD again with slot ${facts.previous}'s values` : 'no slot was live, so a failure has nothing to go back to'}`,
        none: 'nothing: SWITCH=none, traffic is not managed',
      }[config.switchKind]}${atProxy(config) && config.switchKind !== 'command' ? `, confirm through ${config.nginx.checkUrl} (5 answers in a row from slot ${slot})` : ''}`;
    },
  },
  {
    name: 'bake',
    applies: baking,
    describe: (facts, config) =>
      facts.command === 'deploy'
        ? `keep slot ${facts.previous} running without traffic for BAKE_TIME (${formatDuration(config.bakeTimeMs)}): a rollback in that window is a switch only${config.autoRollback ? `; 3 failed health checks of slot ${facts.target} in a row roll back by themselves, and so do ${config.judge.failedWindows} failed windows in a row of nginx's figures for it (each ${formatDuration(config.judge.intervalMs)}, against slot ${facts.previous}'s before the switch${config.judge.bakeCheckCmd.trim() ? ', and BAKE_CHECK_CMD' : ''}; docs/canary.md)` : ''}; a detached watcher drains and stops it at the end`
        : `a detached watcher drains and stops slot ${facts.previous} now, in the background`,
  },
  {
    name: 'drain',
    inside: ['pre_stop', 'post_stop'],
    applies: (facts, config) => facts.previous !== null && !baking(facts, config) && !canarying(facts, config),
    describe: (facts, config) =>
      `${atProxy(config) ? `wait until ${proxyName(config.switchKind)} has no request in flight to slot ${facts.previous} (at most ${formatDuration(config.stopTimeoutMs)}; if WebSocket, SSE or long-poll connections are still open, the bake watcher retires it in the background, LONG_LIVED_TIMEOUT ${formatDuration(config.longLivedTimeoutMs)}), then ` : ''}SIGTERM slot ${facts.previous} (${facts.previous ? where(config, facts.previous) : '-'}), SIGKILL after ${formatDuration(config.stopTimeoutMs)}`,
  },
  {
    name: 'record',
    applies: (facts, config) => !canarying(facts, config),
    describe: (facts, config) => `record slot ${facts.target} as live in ${paths.state(config.deployRoot)}, then prune releases beyond KEEP_RELEASES (${config.keepReleases})`,
  },
];

/** Every step this command will run, in order, with the hooks around each. */
export function stepsFor(facts: CycleFacts, config: Config): StepSpec[] {
  return [...PREPARE_STEPS, ...FLOW_STEPS].filter((step) => step.applies(facts, config));
}

/** Why the release step does not run RELEASE_CMD for this commit (the run and the dry run both ask), or undefined: it runs. */
export function releaseCmdSkipped(choice: ReleaseCmdChoice | undefined, commit: string | null, ranAt?: string): string | undefined {
  if (choice === 'skip') return 'skipped (--no-release-cmd: not run here and not recorded; a fleet runs it in its first host\'s deploy)';
  if (ranAt && choice !== 'force') return `skipped: RELEASE_CMD already ran for ${short(commit)} at ${ranAt} (--release-cmd runs it again)`;
  return undefined;
}

/** What the release step will do with RELEASE_CMD: run it, or why not. */
function describeRelease(facts: CycleFacts, config: Config): string {
  const skipped = releaseCmdSkipped(facts.releaseCmd, facts.commit, facts.releaseCmdRanAt);
  if (skipped) return skipped;
  const again = facts.releaseCmdRanAt ? ` again (--release-cmd; it ran at ${facts.releaseCmdRanAt})` : '';
  const unlessRan = facts.commit ? '' : ', unless it already ran for that commit';
  return `/bin/sh -c ${JSON.stringify(config.releaseCmd)}${again} in the new release with the app's environment, before slot ${facts.target} takes any traffic${unlessRan} (at most RELEASE_TIMEOUT, ${formatDuration(config.releaseTimeoutMs)}); a failure stops the deploy with nothing switched`;
}

function where(config: Config, slot: SlotName): string {
  return describeEndpoints(slotEndpoints(config, slot));
}
