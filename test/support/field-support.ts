import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** Helpers for the field-hardening tests (not a test file itself). */

/** Every file, folder and symlink under `dir` with its mode and the hash of its content: equal snapshots mean byte-for-byte untouched. */
export function snapshotTree(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  const walk = (relative: string) => {
    const full = path.join(dir, relative);
    const stat = lstatSync(full);
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isSymbolicLink()) result[relative] = `link ${readlinkSync(full)}`;
    else if (stat.isDirectory()) {
      result[relative || '.'] = `dir ${mode}`;
      for (const entry of readdirSync(full).sort()) walk(path.join(relative, entry));
    } else result[relative] = `file ${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
  };
  walk('');
  return result;
}

/** Every file under `dir` whose content contains `needle` (for "the secret is nowhere on disk"). */
export function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = [];
  const walk = (full: string) => {
    const stat = lstatSync(full);
    if (stat.isDirectory()) for (const entry of readdirSync(full)) walk(path.join(full, entry));
    else if (stat.isFile() && readFileSync(full).includes(needle)) found.push(full);
  };
  walk(dir);
  return found;
}
