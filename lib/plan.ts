import type { Config, SlotName } from './config.ts';
import { healthUrl } from './health.ts';
import { paths } from './paths.ts';
import { otherSlot, type State } from './state.ts';

export type PlannedStep = { name: string; what: string };
export type Plan = { command: 'deploy' | 'rollback'; slot: SlotName; port: number; commit: string | null; previous: SlotName | null; steps: PlannedStep[] };

/** What a deploy or rollback would do, step by step, without doing any of it. Pure. */
export function planCycle(config: Config, state: State, command: 'deploy' | 'rollback', commit: string | null, hooks: string[], revision?: string): Plan {
  const previous = state.live;
  const slot: SlotName = previous ? otherSlot(previous) : state.next_deploy;
  const port = config.ports[slot];
  const steps: PlannedStep[] = [{ name: 'lock', what: `take ${paths.lock(config.deployRoot)}` }];
  const hook = (name: string) => hooks.includes(name) && steps.push({ name: `hook ${name}`, what: `run ${config.hooksDir}/${name}` });
  hook('begin');
  if (command === 'deploy') {
    steps.push({ name: 'fetch', what: `fetch ${config.repo} into ${paths.mirror(config.deployRoot)} and resolve ${revision ?? `the newest commit of ${config.branch}`}${commit ? ` (${commit.slice(0, 12)} as of the last fetch)` : ''}` });
    if (commit && state.releases?.[commit]?.complete) {
      steps.push({ name: 'build', what: `none: ${commit.slice(0, 12)} is a kept release in ${paths.release(config.deployRoot, commit)} (no checkout, install or build unless --rebuild)` });
    } else {
      hook('pre_checkout');
      steps.push({ name: 'checkout', what: `check ${commit ? commit.slice(0, 12) : 'it'} out into ${commit ? paths.release(config.deployRoot, commit) : paths.releases(config.deployRoot)} (a new release; kept releases stay rollback targets)` });
      hook('pre_install');
      steps.push({ name: 'install', what: config.installCmd.trim() ? `/bin/sh -c ${JSON.stringify(config.installCmd)}, or the node_modules of a kept release with the same lockfile` : 'skipped (INSTALL_CMD is empty)' });
      steps.push({ name: 'build', what: config.buildCmd.trim() ? `/bin/sh -c ${JSON.stringify(config.buildCmd)}` : 'skipped (BUILD_CMD is empty)' });
      hook('post_install');
    }
  }
  hook('pre_start');
  steps.push({ name: 'start', what: `point ${paths.slot(config.deployRoot, slot)} at the release, start slot ${slot} on ${config.host}:${port}: /bin/sh -c ${JSON.stringify(config.startCmd)}` });
  hook('post_start');
  steps.push({ name: 'health', what: `wait up to ${config.healthTimeoutMs / 1000}s for ${healthUrl(config.host, port, config.healthPath)} to answer 2xx` });
  hook('running');
  const switchWhat = {
    'nginx-reload': `write ${config.nginx.upstreamFile} (slot ${slot} first), run ${JSON.stringify(config.nginx.testCmd)}, then ${JSON.stringify(config.nginx.reloadCmd)}, wait for the old nginx workers to exit`,
    'nginx-live-file': `run ${JSON.stringify(config.nginx.testCmd)} (and reload only if ${config.nginx.upstreamFile} must change), create ${config.nginx.liveDir}/live-${slot} and remove live-${otherSlot(slot)}, confirm through ${config.nginx.checkUrl} (5 answers in a row from slot ${slot})`,
    passive: 'nothing to switch: nginx moves to slot ' + slot + ' as the old slot stops listening',
    none: 'SWITCH=none: traffic is not managed',
  }[config.switchKind];
  steps.push({ name: 'switch', what: switchWhat });
  if (previous) {
    hook('pre_stop');
    const atProxy = config.switchKind === 'nginx-live-file' || config.switchKind === 'nginx-reload' ? `wait until nginx has no connection open to slot ${previous} (at most ${config.stopTimeoutMs / 1000}s), then ` : '';
    steps.push({ name: 'drain', what: `${atProxy}SIGTERM slot ${previous} (port ${config.ports[previous]}), SIGKILL after ${config.stopTimeoutMs / 1000}s` });
    hook('post_stop');
  }
  steps.push({ name: 'record', what: `record slot ${slot} as live in ${paths.state(config.deployRoot)}` });
  hook('end');
  return { command, slot, port, commit, previous, steps };
}
