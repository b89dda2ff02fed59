import { readFileSync } from 'node:fs';
import os from 'node:os';
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

/** This install's version, from its package.json (shipped in every layout). */
export function switchyardVersion(): string {
  try {
    return String(JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** Whether npm installed this copy (globally, by npx, or as a project's dependency) rather than a git clone. Pure. */
export function isPackageInstall(projectDir: string): boolean {
  return projectDir.split(path.sep).includes('node_modules');
}

/**
 * Where `.env`, `apps/` and (through HOOKS_DIR) the hooks live when neither DEPLOY_ENV_FILE nor --config
 * says. A git clone keeps them beside deploy.ts, as it always has. An npm install must not: npm replaces
 * the package folder whole on every install or upgrade, so they go where a CLI's config goes by
 * convention: /etc/switchyard for root, ${XDG_CONFIG_HOME:-~/.config}/switchyard for anyone else. Pure.
 */
export function defaultConfigDir(projectDir: string, env: Record<string, string | undefined>, uid: number, home: string): string {
  if (!isPackageInstall(projectDir)) return projectDir;
  if (uid === 0) return '/etc/switchyard';
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(env.HOME || home, '.config');
  return path.join(base, 'switchyard');
}

/** The folder of the default `.env` and `apps/` for this caller. */
export function configDir(env: Record<string, string | undefined>): string {
  return defaultConfigDir(PROJECT_DIR, env, process.getuid?.() ?? -1, os.homedir());
}
