import type { Config } from '../config/config.ts';
import { commandSwitch } from './command.ts';
import { nginxLiveFileSwitch } from './nginx-live-file.ts';
import { nginxReloadSwitch } from './nginx-reload.ts';
import { noSwitch, passiveSwitch } from './passive.ts';
import type { TrafficSwitch } from './types.ts';

export { drainsAtProxy, proxyName, trafficTarget, type SlotTarget, type TrafficSwitch } from './types.ts';

/** Where traffic is switched: pick the strategy named by SWITCH. */
export function createSwitch(config: Config, hooks: { phase?: (name: string) => Promise<void> | void } = {}): TrafficSwitch {
  switch (config.switchKind) {
    case 'nginx-reload':
      return nginxReloadSwitch(config, hooks);
    case 'nginx-live-file':
      return nginxLiveFileSwitch(config, hooks);
    case 'passive':
      return passiveSwitch(config);
    case 'command':
      return commandSwitch(config, hooks);
    case 'none':
      return noSwitch();
  }
}
