import { appFiles } from './app-process.ts';
import { instanceName } from './endpoints.ts';
import type { Config, SlotName } from '../config/config.ts';
import { paths } from '../host/paths.ts';

/** Where each slot's files live under DEPLOY_ROOT. */

export { SLOTS } from '../config/config.ts';

export function slotDir(config: Config, slot: SlotName): string {
  return paths.slot(config.deployRoot, slot);
}

export function runDir(config: Config): string {
  return paths.run(config.deployRoot);
}

/** The name of a slot's (first) process: `myapp-a`; its pool's others are instanceName's `myapp-a.2` ... */
export function slotProcessName(config: Config, slot: SlotName): string {
  return instanceName(config.appName, slot, { index: 0 });
}

export function slotFiles(config: Config, slot: SlotName) {
  return appFiles(runDir(config), slotProcessName(config, slot));
}

