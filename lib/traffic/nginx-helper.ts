import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { SwitchyardError, withContext } from '../errors.ts';
import { readPidFile } from '../host/process.ts';
import { runCommand } from '../host/run.ts';
import { nginxHelperArgv } from '../host/commands/nginx-helper.ts';
import { upstreamAddress } from '../slot/endpoints.ts';
import { childPids } from '../host/proc.ts';
import { waitForOldWorkers, type PhaseHooks } from './nginx-workers.ts';
import type { SwitchReport } from './types.ts';
import type { UpstreamLayout } from './upstream.ts';

/**
 * NGINX_HELPER (templates/nginx/switchyard-nginx-helper, root-owned): the one way a deploy user
 * changes what nginx parses. Switchyard hands it slot names and addresses, never a file or text;
 * it renders the upstream itself, runs nginx -t and reloads. docs/security.md.
 */

/** The helper's argv that puts `layout` in place: `install` (write, test, reload), or `write` (no reload). Pure. */
export function helperInstallArgv(helper: readonly string[], layout: UpstreamLayout, verb: 'install' | 'write' = 'install'): string[] {
  const addresses = (endpoints: Parameters<typeof upstreamAddress>[1][]) => endpoints.map((endpoint) => upstreamAddress(layout.host, endpoint)).join(',');
  if (layout.kind === 'per-slot') {
    const build = verb === 'install' ? nginxHelperArgv.installPerSlot : nginxHelperArgv.writePerSlot;
    return build(helper, layout.appName, addresses(layout.slots.a), addresses(layout.slots.b));
  }
  if (layout.kind === 'live') {
    const { standby: other } = layout;
    const standby = other && other.slot !== layout.live.slot ? { slot: other.slot, addresses: addresses(other.endpoints) } : undefined;
    const build = verb === 'install' ? nginxHelperArgv.installLive : nginxHelperArgv.writeLive;
    return build(helper, layout.appName, layout.live.slot, addresses(layout.live.endpoints), standby, layout.live.commit ?? undefined);
  }
  throw new SwitchyardError('NGINX_HELPER renders the nginx-live-file and nginx-reload upstreams only', { next: 'unset NGINX_HELPER for SWITCH=passive' });
}

function readOrUndefined(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** installUpstream() through the helper: it writes, tests and reloads as root; Switchyard waits for nginx's old workers. */
export async function installWithHelper(
  config: Config,
  content: string,
  layout: UpstreamLayout,
  hooks: PhaseHooks,
  report: SwitchReport,
  reload: 'always' | 'if-changed',
): Promise<{ detail: string; reloaded: boolean; undo: () => Promise<void> }> {
  const file = config.nginx.upstreamFile;
  const helper = config.nginx.helper;
  const changed = readOrUndefined(file) !== content;
  if (!changed && reload === 'if-changed') return { detail: 'upstream unchanged, no reload', reloaded: false, undo: async () => undefined };
  const master = readPidFile(config.nginx.pidFile);
  const oldWorkers = master ? childPids(master) : [];
  try {
    const argv = changed ? helperInstallArgv(helper, layout) : nginxHelperArgv.reload(helper, config.appName);
    await runCommand(argv, { timeoutMs: 60_000, env: config.commandEnv });
  } catch (error) {
    throw withContext(error, `NGINX_HELPER could not ${changed ? 'install the new upstream' : 'reload nginx'}`, {
      untouched: 'the helper restores the upstream it replaced when nginx -t or the reload fails',
      next: 'check the helper\'s message above, and that NGINX_UPSTREAM_FILE is the file it names (switchyard-nginx-helper path APP)',
    });
  }
  const undo = async () => {
    const restore = nginxHelperArgv.restore(helper, config.appName);
    if (changed) await runCommand(restore, { timeoutMs: 60_000, env: config.commandEnv }).catch(() => undefined);
  };
  if (changed && readOrUndefined(file) !== content) {
    await undo();
    throw new SwitchyardError(`NGINX_HELPER did not write ${file} as Switchyard renders it`, {
      untouched: 'the previous upstream was put back',
      next: 'set NGINX_UPSTREAM_FILE to the file the helper names (switchyard-nginx-helper path APP), or install the helper of this Switchyard version',
    });
  }
  await hooks.phase?.('reloaded');
  try {
    const detail = await waitForOldWorkers(master, oldWorkers, config.nginx.pidFile, Math.max(config.stopTimeoutMs, 10_000), report);
    return { detail: `${changed ? 'upstream installed by NGINX_HELPER; ' : ''}${detail}`, reloaded: true, undo };
  } catch (error) {
    await undo();
    throw withContext(error, 'nginx did not switch to the new slot', { untouched: `${file} was restored and nginx reloaded with it` });
  }
}
