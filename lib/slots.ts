import path from 'node:path';
import { appFiles, readLogTail, readStatus, runningPid, startApp, stopApp } from './app-process.ts';
import type { Config, SlotName } from './config.ts';
import type { StopOutcome } from './process.ts';

/** Where each slot's files live, and its app process, under DEPLOY_ROOT. */

export const SLOTS: readonly SlotName[] = ['a', 'b'];

export function slotDir(config: Config, slot: SlotName): string {
  return path.join(config.deployRoot, 'slots', slot);
}

export function runDir(config: Config): string {
  return path.join(config.deployRoot, 'run');
}

export function slotProcessName(config: Config, slot: SlotName): string {
  return `${config.appName}-${slot}`;
}

export function slotFiles(config: Config, slot: SlotName) {
  return appFiles(runDir(config), slotProcessName(config, slot));
}

export function slotRunningPid(config: Config, slot: SlotName): number | undefined {
  return runningPid(slotFiles(config, slot));
}

export function startSlot(config: Config, slot: SlotName, env: Record<string, string | undefined>): number {
  return startApp({
    name: slotProcessName(config, slot),
    dir: slotDir(config, slot),
    port: config.ports[slot],
    host: config.host,
    command: config.startCmd,
    runDir: runDir(config),
    env: { ...env, SWITCHYARD_SLOT: slot },
  });
}

/** True once the app under the slot's supervisor has exited at least once (crashed on boot). */
export function slotAppExited(config: Config, slot: SlotName): boolean {
  const files = slotFiles(config, slot);
  const status = readStatus(files);
  return (status !== undefined && status.exits.length > 0) || runningPid(files) === undefined;
}

export function slotLogTail(config: Config, slot: SlotName, lines = 20): string[] {
  return readLogTail(slotFiles(config, slot).logFile, lines);
}

export function stopSlot(config: Config, slot: SlotName, onWait?: (elapsedMs: number) => void): Promise<StopOutcome> {
  return stopApp(slotFiles(config, slot), config.stopTimeoutMs, onWait);
}
