import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../host/files.ts';

/** Blue-green: which group is live, recorded on every host, so any controller reads the same. */

export type LiveGroup = { group: 'A' | 'B'; commit: string | null; fleetId: string; at: string };

export function groupPath(deployRoot: string): string {
  return path.join(deployRoot, 'fleet-group.json');
}

export function readLiveGroup(deployRoot: string): LiveGroup | undefined {
  try {
    const data = JSON.parse(readFileSync(groupPath(deployRoot), 'utf8'));
    return data.group === 'A' || data.group === 'B' ? data : undefined;
  } catch {
    return undefined;
  }
}

export function writeLiveGroup(deployRoot: string, group: LiveGroup): void {
  writeFileAtomic(groupPath(deployRoot), JSON.stringify(group));
}
