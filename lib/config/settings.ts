import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { SwitchyardError } from '../errors.ts';

/** Where the settings come from: the env file (DEPLOY_ENV_FILE or the default) and the environment, read once. */

/** `missingFile`: the default env file does not exist (fine when the environment holds every required key). */
export type RawSettings = {
  fileValues: Record<string, string>;
  env: Record<string, string | undefined>;
  envFile: string;
  missingFile?: boolean;
  duplicates?: string[];
};

/** Keys set more than once in an env file, with the line that wins (dotenv keeps the last). Pure. */
export function duplicateKeys(text: string): string[] {
  const lines = new Map<string, number[]>();
  text.split('\n').forEach((line, index) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=/.exec(line)?.[1];
    if (key) lines.set(key, [...(lines.get(key) ?? []), index + 1]);
  });
  return [...lines].filter(([, at]) => at.length > 1).map(([key, at]) => `${key} is set ${at.length} times (lines ${at.join(', ')}); the last one, line ${at.at(-1)}, is used`);
}

/** Read the env file (missing is fine unless it was named explicitly) and the environment. */
export function readSettings(defaultEnvFile: string, env: Record<string, string | undefined>): RawSettings {
  const explicit = env.DEPLOY_ENV_FILE;
  const envFile = path.resolve(explicit || defaultEnvFile);
  let text: string;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return { fileValues: {}, env, envFile, missingFile: true };
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code})`;
    throw new SwitchyardError(`config file ${envFile} ${reason}`, {
      untouched: 'nothing was changed',
      next: explicit
        ? `fix DEPLOY_ENV_FILE, or create the file: \`cp ${path.join(path.dirname(path.resolve(defaultEnvFile)), '.env.example')} ${envFile}\` and edit it, or \`./deploy.ts init --env-file ${envFile} --app NAME --repo URL --root DIR\``
        : 'copy .env.example to .env and edit it',
    });
  }
  return { fileValues: parseDotenv(text), env, envFile, duplicates: duplicateKeys(text) };
}
