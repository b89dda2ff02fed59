import { bothSlots } from './long-lived.ts';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { otherSlot, type Config, type SlotName } from '../config/config.ts';
import { slotEndpoints } from '../slot/endpoints.ts';
import { withContext } from '../errors.ts';
import { writeFileAtomic } from '../host/files.ts';
import { nginxNotRunning } from './nginx-running.ts';
import { SwitchyardError } from '../errors.ts';
import { socketsUnreachable, unreachableByWorkers } from './nginx-access.ts';
import { confirmThroughNginx, installUpstream } from './nginx-reload.ts';
import type { PhaseHooks } from './nginx-workers.ts';
import type { SlotTarget, SwitchReport, TrafficSwitch } from './types.ts';
import { renderUpstream, upstreamName, type UpstreamLayout } from './upstream.ts';

/** The files whose existence the site checks on every request (`if (-f .../live-b)`). */
export function liveFile(config: Config, slot: SlotName): string {
  return path.join(config.nginx.liveDir, `live-${slot}`);
}

/** Which slot the live-files select; b wins when both exist, as in the site template. Undefined when neither does. */
export function selectedSlot(config: Config): SlotName | undefined {
  if (existsSync(liveFile(config, 'b'))) return 'b';
  if (existsSync(liveFile(config, 'a'))) return 'a';
  return undefined;
}

/** Put the upstream file back as the switch found it and reload nginx with it; says so for the error. */
async function restoreUpstream(undo: () => Promise<void>): Promise<string> {
  try {
    await undo();
    return '; the upstream file was put back as it was and nginx reloaded with it';
  } catch (error) {
    return `; putting the upstream file back failed (${(error as Error).message})`;
  }
}

/**
 * SWITCH=nginx-live-file, the default: a switch without an nginx reload, so no client connection is
 * ever closed. The upstream file holds one group per slot and never changes with a deploy; the site
 * (templates/nginx/site.conf) picks the group per request from which live-file exists. Moving
 * traffic is creating one file and removing the other; then Switchyard confirms through nginx
 * (NGINX_CHECK_URL) that requests reach the new slot's group before the old one gets any signal.
 */
export function nginxLiveFileSwitch(config: Config, hooks: PhaseHooks = {}): TrafficSwitch {
  const layout: UpstreamLayout = { kind: 'per-slot', appName: config.appName, host: config.host, slots: { a: slotEndpoints(config, 'a'), b: slotEndpoints(config, 'b') }, streams: bothSlots(config) };
  const content = renderUpstream(layout);
  const select = (slot: SlotName) => {
    // Create the new file first: while both exist, b wins, and either answer is a running, healthy slot.
    writeFileAtomic(liveFile(config, slot), `${slot}\n`, 0o644);
    rmSync(liveFile(config, otherSlot(slot)), { force: true });
  };
  return {
    kind: 'nginx-live-file',
    currentSlot: () => selectedSlot(config),
    async moveTo(live: SlotTarget, previous: SlotTarget | null, report: SwitchReport): Promise<string> {
      // Workers that cannot stat() the file fall back to the both-slots group: refuse before moving anything.
      const unreachable =
        unreachableByWorkers(liveFile(config, live.slot), config.nginx.pidFile) ?? socketsUnreachable(live, config.nginx.pidFile);
      if (unreachable) {
        throw new SwitchyardError(unreachable, { untouched: `the live-file was not changed${previous ? `; slot ${previous.slot} still gets the traffic` : ''}` });
      }
      let installed = await installUpstream(config, content, hooks, report, { reload: 'if-changed', layout });
      // The first install is the one that changed the file: a failure below puts back what it replaced.
      const { undo: undoUpstream, reloaded: changedUpstream } = installed;
      const before = selectedSlot(config);
      const expected = { endpoints: live.endpoints, slot: live.slot, group: `${upstreamName(config.appName)}_${live.slot}` };
      let confirmed: string;
      select(live.slot);
      await hooks.phase?.('live-file-written');
      try {
        // A request that chose its group just before the rename still goes to the old slot: the
        // drain at the proxy waits for it before the old slot gets any signal.
        try {
          confirmed = await confirmThroughNginx(config.nginx.checkUrl, expected, report, undefined, config.nginx.checkHost);
        } catch {
          // The file can be right on disk while nginx still runs an older config (a setup killed
          // before its reload): reload once and look again.
          installed = await installUpstream(config, content, hooks, report, { reload: 'always', layout });
          confirmed = await confirmThroughNginx(config.nginx.checkUrl, expected, report, undefined, config.nginx.checkHost);
        }
      } catch (error) {
        if (before) select(before);
        else rmSync(liveFile(config, live.slot), { force: true });
        const upstreamBack = changedUpstream ? await restoreUpstream(undoUpstream) : '';
        const stopped = nginxNotRunning(config, `${before ? `the live-file points at slot ${before} again` : 'no live-file is left'}${upstreamBack}`);
        if (stopped) throw stopped;
        throw withContext(error, `nginx does not follow the live-file in ${config.nginx.liveDir}`, {
          untouched: `${before ? `the live-file points at slot ${before} again` : 'no live-file is left'}${upstreamBack}`,
          next: 'install the site `./deploy.ts nginx-site` prints and let nginx workers reach NGINX_LIVE_DIR, then deploy again',
        });
      }
      const how = installed.reloaded ? `upstream installed and nginx reloaded (${installed.detail})` : 'no reload';
      return `live-file → slot ${live.slot}, confirmed through nginx (${confirmed}); ${how}`;
    },
  };
}

