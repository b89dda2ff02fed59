import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Switchyard's own folder. This file sits one level below it, as the bundle's files do in dist/,
 * so the same line is right whether the TypeScript or the bundle runs; anything reached by path
 * (deploy.ts, templates/, lib/tsx-register.mjs) is found from here, never from a file's own depth.
 */
export const PROJECT_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

export const DEPLOY_TS = path.join(PROJECT_DIR, 'deploy.ts');

/** The register hook that lets node run a TypeScript file (hooks written in TypeScript, the CLI without its bundle). */
export const TSX_REGISTER = path.join(PROJECT_DIR, 'lib', 'tsx-register.mjs');

export function templateFile(...parts: string[]): string {
  return path.join(PROJECT_DIR, 'templates', ...parts);
}
