import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_DIR } from '../project-dir.ts';

/** This install's Switchyard version (package.json): a fleet runs one version on the controller and on every host. */
export function switchyardVersion(): string {
  try {
    return String(JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}
