import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { parseDuration } from '../config/duration.ts';
import { parseBatchSize, parseFailPercent, type BatchSize } from './batches.ts';
import { parseHosts, type FleetHost } from './hosts.ts';

/** The controller's keys: FLEET_* only (the host keys, APP_NAME, DEPLOY_ROOT ..., live on each host). Pure. */

export type FleetConfig = {
  hosts: FleetHost[];
  sshConfig?: string;
  remote: string;
  batch: BatchSize;
  batchText: string;
  /** FLEET_CANARY_HOSTS: the first batch's hosts (0: none). */
  canaryHosts: number;
  /** FLEET_PAUSE: the wait after each batch but the last, during which the hosts' own bake judgement runs. */
  pauseMs: number;
  pauseText: string;
  /** FLEET_MAX_FAIL: the share of the fleet's hosts that may fail and the rollout go on (0: none). */
  maxFailPercent: number;
  onFailure: 'revert' | 'halt';
  checkCmd: string;
  /** FLEET_DRAIN_CMD: rolling, a batch's hosts out of the front's rotation around their deploys. */
  drainCmd: string;
  strategy: 'rolling' | 'blue-green';
  groups: { A: FleetHost[]; B: FleetHost[] };
  switchCmd: string;
  switchCheckCmd: string;
  /** FLEET_PARALLEL: new SSH connections at once (each host's first command; the rest share its connection). */
  parallel: number;
  /** Blue-green: the controller's record of its last switch (fleet-record.ts), beside its .env. */
  recordFile: string;
};

export const FLEET_DEFAULTS = {
  FLEET_REMOTE: 'switchyard/deploy.ts',
  FLEET_BATCH: '1',
  // One host first: with FLEET_BATCH=1 nothing changes; with wider batches a bad release reaches one host, not a batch.
  FLEET_CANARY_HOSTS: '1',
  FLEET_PAUSE: '0',
  FLEET_MAX_FAIL: '0',
  FLEET_ON_FAILURE: 'revert',
  FLEET_STRATEGY: 'rolling',
  // OpenSSH's own MaxStartups begins refusing past 10 connections still authenticating (10:30:100).
  FLEET_PARALLEL: '10',
} as const;

export function parseFleetConfig(raw: (key: string) => string | undefined, envFile: string): FleetConfig {
  const problems: string[] = [];
  const value = (key: string) => raw(key)?.trim() || (FLEET_DEFAULTS as Record<string, string>)[key] || '';
  const hostsOf = (key: string): FleetHost[] => {
    try {
      return parseHosts(value(key)).map((host) => host);
    } catch (error) {
      problems.push((error as Error).message.replace(/^FLEET_HOSTS/, key));
      return [];
    }
  };
  const hosts = hostsOf('FLEET_HOSTS');
  if (hosts.length === 0 && !problems.length) problems.push('FLEET_HOSTS is required on the controller: the hosts\' SSH destinations, separated by spaces or commas');
  const batchText = value('FLEET_BATCH');
  const batch = parseBatchSize(batchText);
  if (!batch) problems.push(`FLEET_BATCH must be a number of hosts (1, 2 ...) or a share of the fleet (25%); got ${JSON.stringify(batchText)}`);
  const canaryText = value('FLEET_CANARY_HOSTS');
  if (!/^\d{1,4}$/.test(canaryText)) problems.push(`FLEET_CANARY_HOSTS must be a number of hosts for the first batch (0: none); got ${JSON.stringify(canaryText)}`);
  const pauseText = value('FLEET_PAUSE');
  const pauseMs = parseDuration(pauseText);
  if (pauseMs === undefined || pauseMs > 3_600_000) problems.push(`FLEET_PAUSE must be a duration up to 1h (0, 30s, 2m); got ${JSON.stringify(pauseText)}`);
  const maxFailText = value('FLEET_MAX_FAIL');
  const maxFailPercent = parseFailPercent(maxFailText);
  if (maxFailPercent === undefined) problems.push(`FLEET_MAX_FAIL must be a percentage of the hosts from 0 to 100 (10 or 10%); got ${JSON.stringify(maxFailText)}`);
  const parallelText = value('FLEET_PARALLEL');
  if (!/^[1-9]\d{0,3}$/.test(parallelText)) problems.push(`FLEET_PARALLEL must be a number of SSH connections from 1 to 9999; got ${JSON.stringify(parallelText)}`);
  const onFailure = value('FLEET_ON_FAILURE');
  if (!['revert', 'halt'].includes(onFailure)) problems.push(`FLEET_ON_FAILURE must be revert or halt; got ${JSON.stringify(onFailure)}`);
  const strategy = value('FLEET_STRATEGY');
  if (!['rolling', 'blue-green'].includes(strategy)) problems.push(`FLEET_STRATEGY must be rolling or blue-green; got ${JSON.stringify(strategy)}`);
  const remote = value('FLEET_REMOTE');
  if (/[\0\n]/.test(remote)) problems.push('FLEET_REMOTE must not contain newlines or NUL characters');
  const groups = { A: hostsOf('FLEET_GROUP_A'), B: hostsOf('FLEET_GROUP_B') };
  const switchCmd = value('FLEET_SWITCH_CMD');
  if (strategy === 'blue-green') {
    const named = (host: FleetHost) => hosts.some((other) => other.name === host.name);
    if (groups.A.length === 0 || groups.B.length === 0) problems.push('FLEET_STRATEGY=blue-green needs FLEET_GROUP_A and FLEET_GROUP_B, each one or more hosts of FLEET_HOSTS');
    for (const host of [...groups.A, ...groups.B]) if (!named(host)) problems.push(`${host.name} is in a FLEET_GROUP but not in FLEET_HOSTS`);
    for (const host of groups.A) if (groups.B.some((other) => other.name === host.name)) problems.push(`${host.name} is in both FLEET_GROUP_A and FLEET_GROUP_B`);
    for (const host of hosts) if (![...groups.A, ...groups.B].some((other) => other.name === host.name)) problems.push(`${host.name} is in FLEET_HOSTS but in neither FLEET_GROUP_A nor FLEET_GROUP_B`);
    if (!switchCmd) problems.push('FLEET_STRATEGY=blue-green needs FLEET_SWITCH_CMD: the command that sends traffic to the group in $SWITCHYARD_GROUP (see templates/fleet/)');
  }
  if (problems.length > 0) {
    throw new SwitchyardError(`invalid fleet configuration in ${envFile} or the environment: ${problems.join('; ')}`, {
      untouched: 'nothing was changed on any host',
      next: 'fix the named FLEET_ keys (see docs/fleet.md and .env.example)',
      details: problems,
      exitCode: 2,
    });
  }
  const sshConfig = value('FLEET_SSH_CONFIG');
  return {
    hosts,
    ...(sshConfig ? { sshConfig: path.resolve(path.dirname(envFile), sshConfig) } : {}),
    remote,
    batch: batch!,
    batchText,
    canaryHosts: Number(canaryText),
    pauseMs: pauseMs!,
    pauseText,
    maxFailPercent: maxFailPercent!,
    onFailure: onFailure as FleetConfig['onFailure'],
    checkCmd: value('FLEET_CHECK_CMD'),
    drainCmd: value('FLEET_DRAIN_CMD'),
    strategy: strategy as FleetConfig['strategy'],
    groups,
    switchCmd,
    switchCheckCmd: value('FLEET_SWITCH_CHECK_CMD'),
    parallel: Number(parallelText),
    recordFile: path.join(path.dirname(envFile), '.switchyard-fleet.json'),
  };
}
