import { bothSlots } from './long-lived.ts';
import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { slotEndpoints } from '../slot/endpoints.ts';
import { writeFileAtomic } from '../host/files.ts';
import type { SwitchReport, TrafficSwitch } from './types.ts';
import { renderUpstream } from './upstream.ts';

/**
 * `substitute`'s layout: both ports are always in the upstream and nginx moves to whichever accepts
 * connections, so traffic moves when the old slot stops listening. Never reloads nginx.
 */
export function passiveSwitch(config: Config): TrafficSwitch {
  const file = config.nginx.upstreamFile;
  const content = renderUpstream({ kind: 'passive', appName: config.appName, host: config.host, servers: [...slotEndpoints(config, 'a'), ...slotEndpoints(config, 'b')], streams: bothSlots(config) });
  return {
    kind: 'passive',
    currentSlot: () => undefined,
    async moveTo(_live, _previous, report: SwitchReport) {
      const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (current === content) return 'both slots are in the upstream; traffic moves as the old slot drains';
      writeFileAtomic(file, content, 0o644);
      report(`wrote the passive upstream ${file}; reload nginx once yourself so it lists both slots (Switchyard never reloads in passive mode)`);
      return 'passive upstream written; nginx needs one reload by the operator';
    },
  };
}

export function noSwitch(): TrafficSwitch {
  return {
    kind: 'none',
    currentSlot: () => undefined,
    async moveTo() {
      return 'SWITCH=none: traffic is not managed by Switchyard';
    },
  };
}
