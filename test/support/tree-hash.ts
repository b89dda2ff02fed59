import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** A hash of a folder's tree: every path, its type and mode, each file's bytes and each link's target. */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (relative: string) => {
    const full = path.join(dir, relative);
    const stat = lstatSync(full);
    hash.update(`${relative}\0${stat.mode}\0`);
    if (stat.isSymbolicLink()) hash.update(readlinkSync(full));
    else if (stat.isFile()) hash.update(readFileSync(full));
    else if (stat.isDirectory()) for (const name of readdirSync(full).sort()) walk(path.join(relative, name));
    hash.update('\0');
  };
  walk('.');
  return hash.digest('hex');
}
