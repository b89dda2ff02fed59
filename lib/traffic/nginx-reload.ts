import { bothSlots } from './long-lived.ts';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { otherSlot, type Config } from '../config/config.ts';
import { describeEndpoints, isUpstreamAddress, type Endpoint } from '../slot/endpoints.ts';
import { SwitchyardError, withContext } from '../errors.ts';
import { nginxNotRunning } from './nginx-running.ts';
import { writeFileAtomic } from '../host/files.ts';
import { describeProbe, probe } from '../slot/health.ts';
import { readPidFile } from '../host/process.ts';
import { runShell } from '../host/run.ts';
import { socketsUnreachable } from './nginx-access.ts';
import { waitForOldWorkers, type PhaseHooks } from './nginx-workers.ts';
import { childPids } from '../host/proc.ts';
import { trafficTarget, type SlotTarget, type SwitchReport, type TrafficSwitch } from './types.ts';
import { parseLiveSlot, renderUpstream, type UpstreamLayout } from './upstream.ts';
import { installWithHelper } from './nginx-helper.ts';


/** NGINX_TEST_CMD and NGINX_RELOAD_CMD that hang (a sudo asking for a password, a stuck nginx) are ended, their whole process group, after this. */
export const NGINX_CMD_TIMEOUT_MS = 60_000;
const nginxCommand = (command: string, env: Record<string, string | undefined>) =>
  runShell(command, { timeoutMs: NGINX_CMD_TIMEOUT_MS, env });

/**
 * Put `content` in the upstream file nginx includes: `NGINX_TEST_CMD` always runs (a broken nginx
 * config stops the deploy before traffic moves); when the content changed, the file is written
 * atomically, nginx reloaded, and we wait until every worker that ran the previous config has
 * stopped taking requests. Any failure puts the previous file back. `undo` reverts a success.
 */
export async function installUpstream(
  config: Config,
  content: string,
  hooks: PhaseHooks,
  report: SwitchReport,
  options: { reload: 'always' | 'if-changed'; layout?: UpstreamLayout },
): Promise<{ detail: string; reloaded: boolean; undo: () => Promise<void> }> {
  if (config.nginx.helper.length > 0 && options.layout) {
    return installWithHelper(config, content, options.layout, hooks, report, options.reload);
  }
  const file = config.nginx.upstreamFile;
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const restore = () => (before === undefined ? rmSync(file, { force: true }) : writeFileAtomic(file, before, 0o644));
  const changed = before !== content;
  // Nothing nginx parses changes (the live-file mode's every deploy): no nginx -t, no reload, so no sudo at all.
  if (!changed && options.reload === 'if-changed') return { detail: 'upstream unchanged, no reload', reloaded: false, undo: async () => undefined };
  if (changed) {
    writeFileAtomic(file, content, 0o644);
    await hooks.phase?.('upstream-written');
  }
  try {
    await nginxCommand(config.nginx.testCmd, config.commandEnv);
  } catch (error) {
    if (changed) restore();
    throw withContext(error, `nginx rejected ${changed ? 'the new upstream' : 'its configuration'} (${config.nginx.testCmd})`, {
      untouched: changed ? `${file} was restored and nginx was not reloaded` : 'nginx was not reloaded',
      next: 'fix the nginx configuration (see the lines below), then deploy again',
    });
  }
  // A file already right on disk says nothing about what nginx runs (a deploy killed between the
  // write and the reload leaves exactly that), so the live-first layout always reloads.
  const master = readPidFile(config.nginx.pidFile);
  const oldWorkers = master ? childPids(master) : [];
  try {
    await nginxCommand(config.nginx.reloadCmd, config.commandEnv);
  } catch (error) {
    restore();
    throw withContext(error, `nginx reload failed (${config.nginx.reloadCmd})`, {
      untouched: `${file} was restored; nginx still runs its previous config`,
      next: 'check that nginx is running and that the deploy user may reload it (see templates/nginx/sudoers), then deploy again',
    });
  }
  await hooks.phase?.('reloaded');
  const undo = async () => {
    // Not sure nginx switched: put the previous upstream back so nginx and the state agree again,
    // and wait for the workers that run the config being undone, so what serves next is the old one.
    restore();
    const undoneWorkers = master ? childPids(master) : [];
    const reloaded = await nginxCommand(config.nginx.reloadCmd, config.commandEnv).then(() => true, () => false);
    if (reloaded) {
      await waitForOldWorkers(
        master,
        undoneWorkers,
        config.nginx.pidFile,
        Math.max(config.stopTimeoutMs, 10_000),
        report,
      ).catch(() => undefined);
    }
  };
  try {
    const detail = await waitForOldWorkers(master, oldWorkers, config.nginx.pidFile, Math.max(config.stopTimeoutMs, 10_000), report);
    return { detail, reloaded: true, undo };
  } catch (error) {
    await undo();
    throw withContext(error, 'nginx did not switch to the new slot', { untouched: `${file} was restored and nginx reloaded with it` });
  }
}

/**
 * SWITCH=nginx-reload: the upstream lists the new slot first (the other as backup, from the first
 * deploy on), nginx is reloaded, and the switch counts once no worker with the old config takes
 * requests and the check URL answers from the new slot. Each reload closes idle client keep-alive
 * connections, which is why this is not the default.
 */
export function nginxReloadSwitch(config: Config, hooks: PhaseHooks = {}): TrafficSwitch {
  const file = config.nginx.upstreamFile;
  return {
    kind: 'nginx-reload',
    currentSlot: () => (existsSync(file) ? parseLiveSlot(config, readFileSync(file, 'utf8')) : undefined),
    async moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string> {
      // The other slot is the backup even on the first deploy: a worker still on the previous config
      // then falls over to a slot that exists instead of retrying the one it cannot reach.
      const other = otherSlot(live.slot);
      const standby = previous ?? trafficTarget(config, other, null);
      const unreachable = socketsUnreachable(live, config.nginx.pidFile);
      if (unreachable) throw new SwitchyardError(unreachable, { untouched: `the upstream was not changed${previous ? `; slot ${previous.slot} still gets the traffic` : ''}` });
      const layout: UpstreamLayout = { kind: 'live', appName: config.appName, host: config.host, live, standby, streams: bothSlots(config) };
      const content = renderUpstream(layout);
      const installed = await installUpstream(config, content, hooks, report, { reload: 'always', layout });
      let confirmed: string;
      try {
        confirmed = await confirmThroughNginx(
          config.nginx.checkUrl,
          { endpoints: live.endpoints, slot: live.slot },
          report,
          undefined,
          config.nginx.checkHost,
        );
      } catch (error) {
        await installed.undo();
        throw nginxNotRunning(config, `${file} was restored`) ?? withContext(error, 'nginx did not switch to the new slot', { untouched: `${file} was restored and nginx reloaded with it` });
      }
      return `${installed.detail}; ${confirmed}`;
    },
  };
}

/** How many answers in a row must come from the new slot before a switch counts as confirmed. */
export const CONFIRM_PROBES = 5;

export type ConfirmExpectation = {
  endpoints: Endpoint[];
  slot: string;
  /** The upstream group the site must say it picked (live-file sites). */
  group?: string;
};

/**
 * Prove through nginx that new requests reach the new slot and only it: CONFIRM_PROBES answers in a
 * row from `url` (the site's check location) must be 2xx, come from the new slot's port
 * (X-Switchyard-Upstream) and, for a live-file site, name the new slot's group (X-Switchyard-Group).
 * An answer without those headers is not from Switchyard's site: that fails at once, as does a site
 * that fell back to its both-slots group (it cannot see the live-file).
 */
/** `host`: the Host header, so nginx picks this app's site when several share the port (NGINX_SERVER_NAME). */
export async function confirmThroughNginx(
  url: string,
  expected: ConfirmExpectation,
  report: SwitchReport,
  deadlineMs = 10_000,
  host?: string,
  /** A Cookie header: the canary's confirmation asks as a user of one bucket. */
  cookie?: string,
): Promise<string> {
  const started = Date.now();
  let inARow = 0;
  let last = '';
  while (Date.now() - started < deadlineMs) {
    const result = await probe(url, 2000, { host, cookie });
    const upstream = String(result.headers?.['x-switchyard-upstream'] ?? '');
    const group = result.headers?.['x-switchyard-group'];
    if (result.ok && !upstream) {
      throw new SwitchyardError(`the answer from ${url} (HTTP ${result.status}) has no X-Switchyard-Upstream header, so it cannot show which slot answered`, {
        next: 'install the site that `./deploy.ts nginx-site` prints (or point NGINX_CHECK_URL at its /__switchyard/health location)',
      });
    }
    if (result.ok && expected.group && group === undefined) {
      throw new SwitchyardError(`the answer from ${url} has no X-Switchyard-Group header, so the site is not the live-file site and cannot follow the switch`, {
        next: 'install the site that `./deploy.ts nginx-site` prints (or set SWITCH to the mode your site was made for)',
      });
    }
    if (expected.group && group !== undefined && !String(group).endsWith('_a') && !String(group).endsWith('_b')) {
      throw new SwitchyardError(`nginx does not see the live-file: ${url} was routed to the group for both slots (${String(group)})`, {
        next: 'the site checks another folder than NGINX_LIVE_DIR (print it again with ./deploy.ts nginx-site), or its workers cannot reach it; fix that, then deploy again',
      });
    }
    const answered = upstream.split(/\s*,\s*|\s+:\s+/).pop() ?? '';
    const fromNewSlot = expected.endpoints.some((endpoint) => isUpstreamAddress(answered, endpoint));
    if (result.ok && fromNewSlot && (!expected.group || group === expected.group)) {
      inARow++;
      if (inARow >= CONFIRM_PROBES) return `${inARow} answers in a row through nginx came from slot ${expected.slot}`;
      // A breath between answers, not a wait: the live-file is read per request and a reload's old
      // workers were waited for before this, so spacing adds no proof, only time.
      await sleep(2);
      continue;
    }
    inARow = 0;
    last = !result.ok ? describeProbe(result) : expected.group && group !== expected.group ? `group ${String(group)}` : `answered from ${upstream}`;
    await sleep(100);
  }
  report(`could not confirm through nginx that ${url} reaches slot ${expected.slot} on ${describeEndpoints(expected.endpoints)} (last: ${last})`);
  throw new SwitchyardError(`nginx does not send ${url} to the new slot ${expected.slot} on ${describeEndpoints(expected.endpoints)} (last: ${last})`, {
    next: 'check that the nginx site is the one `./deploy.ts nginx-site` prints and that it includes the upstream file',
  });
}
