import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { otherSlot, SLOTS, type Config, type SlotName } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { slotEndpoints } from '../slot/endpoints.ts';
import { BUCKETS, bucketName, bucketsFor } from '../canary/share.ts';
import { unreachableByWorkers } from './nginx-access.ts';
import { confirmThroughNginx } from './nginx-reload.ts';
import type { SwitchReport } from './types.ts';
import { upstreamName } from './upstream.ts';

/**
 * The canary's files in NGINX_LIVE_DIR: canary-a/ or canary-b/ holds one empty file per bucket the
 * canary slot gets (templates/nginx/site.conf tests them per request). Moving the share creates or
 * removes files, never reloads nginx; ending the canary renames the folder away first, so every
 * request from that instant goes to the live slot, then deletes it.
 */

export function canaryDir(config: Config, slot: SlotName): string {
  return path.join(config.nginx.liveDir, `canary-${slot}`);
}

/** The canary nginx sees from the files: its slot and share (the buckets 00.. in a row that exist). */
export function canaryOnDisk(config: Config): { slot: SlotName; share: number } | undefined {
  for (const slot of SLOTS) {
    const dir = canaryDir(config, slot);
    if (!existsSync(dir)) continue;
    let share = 0;
    while (share < BUCKETS && existsSync(path.join(dir, bucketName(share)))) share++;
    return { slot, share };
  }
  return undefined;
}

function touch(file: string): void {
  closeSync(openSync(file, 'a', 0o644));
}

/**
 * Send `share` % of users to `slot`. The first share appears at once (the folder is filled under
 * another name, then renamed into place); later ones add (or remove) bucket files one at a time,
 * which moves each bucket's users exactly once.
 */
export function writeCanaryShare(config: Config, slot: SlotName, share: number): void {
  removeCanaryDir(config, otherSlot(slot));
  const dir = canaryDir(config, slot);
  const wanted = new Set(bucketsFor(share));
  if (!existsSync(dir)) {
    const temp = path.join(config.nginx.liveDir, `.canary-${slot}.${process.pid}.tmp`);
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(temp, { recursive: true, mode: 0o755 });
    chmodSync(temp, 0o755);
    for (const bucket of wanted) touch(path.join(temp, bucket));
    renameSync(temp, dir);
    return;
  }
  for (const bucket of bucketsFor(BUCKETS)) {
    const file = path.join(dir, bucket);
    if (wanted.has(bucket)) touch(file);
  }
  for (const name of readdirSync(dir).sort().reverse()) if (!wanted.has(name)) rmSync(path.join(dir, name), { force: true });
}

function removeCanaryDir(config: Config, slot: SlotName): boolean {
  const dir = canaryDir(config, slot);
  if (!existsSync(dir)) return false;
  const gone = path.join(config.nginx.liveDir, `.canary-${slot}.${process.pid}.${Date.now()}.removed`);
  renameSync(dir, gone);
  rmSync(gone, { recursive: true, force: true });
  return true;
}

/** No canary any more: every request goes to the live slot from the rename on. Says whether there was one. */
export function removeCanary(config: Config): boolean {
  let removed = false;
  for (const slot of SLOTS) removed = removeCanaryDir(config, slot) || removed;
  return removed;
}

/** Why nginx's workers could not see the canary's files, or undefined when they can (or we cannot tell). */
export function canaryUnreachable(config: Config, slot: SlotName): string | undefined {
  return unreachableByWorkers(path.join(canaryDir(config, slot), bucketName(0)), config.nginx.pidFile);
}

/**
 * Prove through nginx (NGINX_CHECK_URL) that a user of the first bucket reaches the canary slot and
 * a user of the last bucket the live slot: the site sees the files and the share is where the state says.
 */
export async function confirmCanary(config: Config, slot: SlotName, share: number, report: SwitchReport): Promise<string> {
  const cookie = (bucket: number) => `${upstreamName(config.appName)}_canary=${bucketName(bucket)}`;
  const expect = (target: SlotName) => ({ endpoints: slotEndpoints(config, target), slot: target, group: `${upstreamName(config.appName)}_${target}` });
  const { checkUrl, checkHost } = config.nginx;
  try {
    const inside = await confirmThroughNginx(checkUrl, expect(slot), report, 10_000, checkHost, cookie(0));
    if (share >= BUCKETS) return inside;
    const live = otherSlot(slot);
    await confirmThroughNginx(checkUrl, expect(live), report, 10_000, checkHost, cookie(BUCKETS - 1));
    return `bucket 00 reaches slot ${slot}, bucket 99 slot ${live}`;
  } catch (error) {
    throw new SwitchyardError(`nginx does not follow the canary files in ${canaryDir(config, slot)}: ${(error as Error).message}`, {
      next: 'install the site `./deploy.ts nginx-site` prints (it has the canary buckets) and reload nginx, then deploy again',
    });
  }
}
