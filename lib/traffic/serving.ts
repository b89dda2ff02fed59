import type { Config, SlotName } from '../config/config.ts';
import { isUpstreamAddress } from '../slot/endpoints.ts';
import { describeProbe, probe, probeSlot } from '../slot/health.ts';
import { runningEndpoints } from '../slot/running-endpoints.ts';
import { unreachableByWorkers } from './nginx-access.ts';
import { liveFile } from './nginx-live-file.ts';

/**
 * What a failed command may say about the slot it left live: "still live and serving" only once a
 * request through nginx's check URL came back from that slot (X-Switchyard-Upstream), never from the
 * record alone (issue 23 item 1: the record said slot a while nginx sent every request to groups
 * nobody served). Without nginx in front (SWITCH=command, passive, none) the slot's own health URL is
 * what can be checked, and the sentence says so.
 */
export async function liveSlotSentence(config: Config, slot: SlotName, label: string): Promise<string> {
  const throughNginx = (config.switchKind === 'nginx-live-file' || config.switchKind === 'nginx-reload') && config.nginx.checkUrl;
  if (!throughNginx) {
    const result = await probeSlot(config, slot);
    return result.ok ? `slot ${label} is still live and answers its health check` : `slot ${label} is recorded as live but does not answer its health check (${describeProbe(result)})`;
  }
  // A probe nginx cannot route (its workers cannot stat() the live-file) would only fill its error log.
  if (config.switchKind === 'nginx-live-file' && unreachableByWorkers(liveFile(config, slot), config.nginx.pidFile)) {
    return `slot ${label} is still live and serving (nginx's workers cannot reach the live-file, so the site answers from both slots' group)`;
  }
  const url = config.nginx.checkUrl;
  const result = await probe(url, 2000, { host: config.nginx.checkHost });
  const answered = String(result.headers?.['x-switchyard-upstream'] ?? '').split(/\s*,\s*|\s+:\s+/).pop() ?? '';
  if (result.ok && runningEndpoints(config, slot).some((endpoint) => isUpstreamAddress(answered, endpoint))) return `slot ${label} is still live and serving`;
  const why = !result.ok ? describeProbe(result) : answered ? `answered from ${answered}` : 'no X-Switchyard-Upstream header';
  return `slot ${label} is recorded as live, but a request through nginx (${url}) did not come back from it (${why}): the site may be down, see ./deploy.ts status`;
}
