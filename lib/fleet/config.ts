import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { parseBatchSize, type BatchSize } from './batches.ts';
import { parseHosts, type FleetHost } from './hosts.ts';

/** The controller's keys: FLEET_* only (the host keys, APP_NAME, DEPLOY_ROOT ..., live on each host). Pure. */

export type FleetConfig = {
  hosts: FleetHost[];
  sshConfig?: string;
  remote: string;
  batch: BatchSize;
  batchText: string;
  onFailure: 'revert' | 'halt';
  checkCmd: string;
  strategy: 'rolling' | 'blue-green';
  groups: { A: FleetHost[]; B: FleetHost[] };
  switchCmd: string;
  switchCheckCmd: string;
  /** FLEET_PARALLEL: new SSH connections at once (each host's first command; the rest share its connection). */
  parallel: number;
};

export const FLEET_DEFAULTS = {
  FLEET_REMOTE: 'switchyard/deploy.ts',
  FLEET_BATCH: '1',
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
    onFailure: onFailure as FleetConfig['onFailure'],
    checkCmd: value('FLEET_CHECK_CMD'),
    strategy: strategy as FleetConfig['strategy'],
    groups,
    switchCmd,
    switchCheckCmd: value('FLEET_SWITCH_CHECK_CMD'),
    parallel: Number(parallelText),
  };
}
