import path from 'node:path';
import type { SlotName } from '../config/config.ts';

/** Where everything lives under DEPLOY_ROOT. Pure, so the planner can name paths without side effects. */
export const paths = {
  state: (deployRoot: string) => path.join(deployRoot, 'state.json'),
  lock: (deployRoot: string) => path.join(deployRoot, 'deploy.lock'),
  mirror: (deployRoot: string) => path.join(deployRoot, '.switchyard', 'mirror.git'),
  /** A symlink to the release the slot runs (`../releases/<commit>`), so a unit's WorkingDirectory never changes. */
  slot: (deployRoot: string, slot: SlotName) => path.join(deployRoot, 'slots', slot),
  releases: (deployRoot: string) => path.join(deployRoot, 'releases'),
  release: (deployRoot: string, commit: string) => path.join(deployRoot, 'releases', commit),
  run: (deployRoot: string) => path.join(deployRoot, 'run'),
};
