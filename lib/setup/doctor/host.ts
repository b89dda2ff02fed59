import { findHookProblems } from '../../cycle/hooks.ts';
import type { SlotName } from '../../config/config.ts';
import { describeEndpoint, describeEndpoints, slotEndpoints, type Endpoint } from '../../slot/endpoints.ts';
import { endpointInUse } from '../../slot/health.ts';
import { createSlotProcesses } from '../../slot/process-manager.ts';
import { SLOTS } from '../../slot/slots.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/** Whether `version` (20.19.1) satisfies a `>=20.19` engines range (the only form package.json uses). Pure. */
export function satisfiesEngines(version: string, engines: string): boolean {
  const wanted = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(engines.trim());
  if (!wanted) return true;
  const have = version.replace(/^v/, '').split('.').map(Number);
  const need = [Number(wanted[1]), Number(wanted[2] ?? 0), Number(wanted[3] ?? 0)];
  for (let index = 0; index < 3; index++) if (have[index] !== need[index]) return (have[index] ?? 0) > need[index];
  return true;
}

export function checkNode(ctx: CheckContext): CheckResult {
  return satisfiesEngines(process.version, ctx.nodeEngines)
    ? pass(`node ${process.version} (package.json wants ${ctx.nodeEngines})`)
    : fail(`node ${process.version} is older than package.json's engines ${ctx.nodeEngines}`, 'install Node 20.19+ or 22 (e.g. from nodesource.com or with nvm), then npm ci again');
}

export function checkHooksSafe(ctx: CheckContext): CheckResult {
  const problems = findHookProblems(ctx.config.hooksDir);
  if (problems.length === 0) return pass(`${ctx.config.hooksDir}: nothing unsafe (hooks run as the deploy user)`);
  return fail(problems.join('; '), 'apply the fix named after each hook above');
}

/** Each slot's ports (or sockets) are free, or held by the slot's own app. */
export async function checkPorts(ctx: CheckContext): Promise<CheckResult> {
  const processes = createSlotProcesses(ctx.config, {});
  const taken: { endpoint: Endpoint; slot: SlotName }[] = [];
  const notes: string[] = [];
  for (const slot of SLOTS) {
    const where = describeEndpoints(slotEndpoints(ctx.config, slot));
    const ours = await processes.runningPid(slot);
    if (ours !== undefined) {
      notes.push(`${where}: slot ${slot}'s app (pid ${ours})`);
      continue;
    }
    const held = [];
    for (const endpoint of slotEndpoints(ctx.config, slot)) if (await endpointInUse(ctx.config.host, endpoint)) held.push(endpoint);
    taken.push(...held.map((endpoint) => ({ endpoint, slot })));
    if (held.length === 0) notes.push(`${where} free`);
  }
  if (taken.length > 0) {
    const first = taken[0].endpoint;
    const find = first.kind === 'port' ? `ss -ltnp 'sport = :${first.port}'` : `ss -lxp | grep ${first.path}`;
    return fail(`${taken.map((each) => `${describeEndpoint(each.endpoint)} (slot ${each.slot})`).join(' and ')} ${taken.length > 1 ? 'are' : 'is'} held by a process Switchyard did not start`, `find it with ${find} and stop it${first.kind === 'port' ? ', or set PORT_A/PORT_B to free ports' : ''}`);
  }
  return pass(notes.join(', '));
}
