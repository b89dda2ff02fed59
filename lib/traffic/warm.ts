import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Config, SlotName } from '../config/config.ts';
import { writeFileAtomic } from '../host/files.ts';

/**
 * The warm-a / warm-b files: while one exists, a request carrying the session cookie of that slot
 * (NGINX_STICKY_PATHS) goes back to it (templates/nginx/site.conf), so a long-poll session that began
 * on the old slot keeps reaching it until the slot retires. Created at the switch for the slot that
 * had the traffic, removed right before that slot is stopped.
 */

const usesSite = (config: Config) => ['nginx-live-file', 'nginx-reload', 'passive'].includes(config.switchKind);

export function warmFile(config: Config, slot: SlotName): string {
  return path.join(config.nginx.liveDir, `warm-${slot}`);
}

/** Best effort: without the file, sessions move to the live slot at the switch, as before; the deploy goes on. */
export function markWarm(config: Config, slot: SlotName): void {
  if (!usesSite(config)) return;
  try {
    writeFileAtomic(warmFile(config, slot), `${slot}\n`, 0o644);
  } catch {
    // The live-file folder is checked (and its problem named) by the switch itself.
  }
}

export function clearWarm(config: Config, slot: SlotName): void {
  if (usesSite(config)) rmSync(warmFile(config, slot), { force: true });
}
