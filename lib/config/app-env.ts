import { parse as parseDotenv } from 'dotenv';
import { SwitchyardError } from '../errors.ts';

/**
 * The app's environment: APP_ENV_FILE's variables plus the few the deploying shell may pass (PATH,
 * HOME, LANG, LC_*), so an app deployed over SSH, from a git hook or from a full login shell gets
 * exactly the same. The process managers add PORT, HOST and SWITCHYARD_SLOT on top.
 */

/** Passed through from whoever runs Switchyard; everything else stays out of the app. */
export const PASSED_THROUGH = ['PATH', 'HOME', 'LANG'] as const;
const PASSED_PREFIX = 'LC_';
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Set by Switchyard per slot: never taken from APP_ENV_FILE. */
export const RESERVED_KEYS = ['PORT', 'HOST', 'SWITCHYARD_SLOT', 'SWITCHYARD_SOCKET', 'SWITCHYARD_INSTANCE'];
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The environment for the app, INSTALL_CMD/BUILD_CMD and hooks. APP_ENV_FILE wins over the caller (it may set PATH). Pure. */
export function appEnvironment(callerEnv: Record<string, string | undefined>, fileValues: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(callerEnv)) {
    if (value !== undefined && ((PASSED_THROUGH as readonly string[]).includes(key) || key.startsWith(PASSED_PREFIX))) env[key] = value;
  }
  env.PATH ??= DEFAULT_PATH;
  for (const [key, value] of Object.entries(fileValues)) if (!RESERVED_KEYS.includes(key)) env[key] = value;
  return env;
}

/** A name the shell, systemd and dotenv all accept, and not one Switchyard sets itself; the problem, or undefined. Pure. */
export function validateEnvKey(key: string): string | undefined {
  if (!KEY_PATTERN.test(key)) return `${JSON.stringify(key)} is not a variable name (letters, digits and _, not starting with a digit)`;
  if (RESERVED_KEYS.includes(key)) return `${key} is set by Switchyard for each slot and cannot be set in APP_ENV_FILE`;
  return undefined;
}

/** Parse dotenv text (the syntax of .env files; `export` prefixes and quotes allowed). Pure. */
export function parseAppEnv(text: string): Record<string, string> {
  return parseDotenv(text);
}

/** dotenv text holding exactly `values`, each value quoted so dotenv reads it back unchanged. Pure. */
export function renderAppEnv(values: Record<string, string>, header = '# The app\'s environment (APP_ENV_FILE). Edit with ./deploy.ts env set KEY=VALUE / env unset KEY.'): string {
  const lines = [header];
  for (const [key, value] of Object.entries(values)) lines.push(`${key}=${quoteDotenv(key, value)}`);
  return `${lines.join('\n')}\n`;
}

function quoteDotenv(key: string, value: string): string {
  // dotenv has no escapes for quotes: pick a quote the value does not hold. Inside double quotes it turns \n into a newline.
  if (!value.includes('\n') && !value.includes('\r')) {
    if (!value.includes("'")) return `'${value}'`;
    if (!value.includes('"') && !value.includes('\\n')) return `"${value}"`;
    if (!value.includes('`')) return `\`${value}\``;
  } else if (!value.includes('"') && !value.includes('\\n') && !value.includes('\r')) {
    return `"${value.replace(/\n/g, '\\n')}"`;
  }
  throw new SwitchyardError(`the value of ${key} cannot be written to a dotenv file: it holds every kind of quote, or a newline together with a quote or \\n`, {
    untouched: 'APP_ENV_FILE was not changed',
    next: 'simplify the value, or edit APP_ENV_FILE by hand',
  });
}

/** `KEY=VALUE` arguments of `env set` → pairs; every bad one named at once. Pure. */
export function parseAssignments(args: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (const arg of args) {
    const equals = arg.indexOf('=');
    if (equals <= 0) {
      problems.push(`${JSON.stringify(arg)} is not KEY=VALUE`);
      continue;
    }
    const key = arg.slice(0, equals);
    const problem = validateEnvKey(key);
    if (problem) problems.push(problem);
    else values[key] = arg.slice(equals + 1);
  }
  if (problems.length > 0) throw new SwitchyardError(`env set refused: ${problems.join('; ')}`, { untouched: 'APP_ENV_FILE was not changed', next: 'pass KEY=VALUE pairs, e.g. ./deploy.ts env set DATABASE_URL=postgres://...', exitCode: 2 });
  return values;
}
