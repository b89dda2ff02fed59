import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isAlive } from './process.ts';

/** writeFileAtomic's temp files: `.<name>.<pid>.<ms>.tmp`. */
const TEMP_PATTERN = /^\..+\.(\d+)\.\d+\.tmp$/;

/** The temp files in `names` whose writer is gone (killed mid-write: nobody will ever rename them). Pure but for the liveness check. */
export function deadTempFiles(names: readonly string[], alive: (pid: number) => boolean = isAlive): string[] {
  return names.filter((name) => {
    const pid = Number(TEMP_PATTERN.exec(name)?.[1] ?? 0);
    return pid > 0 && pid !== process.pid && !alive(pid);
  });
}

/** Remove the temp files of dead writers in `dir`; a live writer's (a command holding the lock now) are left alone. */
export function removeDeadTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const dead = deadTempFiles(names);
  for (const name of dead) rmSync(path.join(dir, name), { force: true });
  return dead;
}
