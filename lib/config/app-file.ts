import path from 'node:path';
import { appNameProblem } from './values.ts';

/**
 * Several apps on one host, one Switchyard checkout: each app's configuration is `apps/<APP_NAME>.env`
 * beside deploy.ts (the first app may keep `.env`), and `./deploy.ts --app NAME <command>` points any
 * command at one, as DEPLOY_ENV_FILE would, without setting it on every call. Pure.
 */

export const APPS_DIR = 'apps';

export function appEnvFile(projectDir: string, appName: string): string {
  return path.join(projectDir, APPS_DIR, `${appName}.env`);
}

/** A leading `--app NAME` (or `--app=NAME`) taken off argv and turned into DEPLOY_ENV_FILE; an error line when it is malformed. */
export function selectApp(
  argv: string[],
  env: Record<string, string | undefined>,
  projectDir: string,
  exists: (file: string) => boolean,
): { argv: string[]; env: Record<string, string | undefined> } | { error: string } {
  const [first, ...rest] = argv;
  if (first !== '--app' && !first?.startsWith('--app=')) return { argv, env };
  const name = first === '--app' ? rest.shift() : first.slice('--app='.length);
  // The same grammar as APP_NAME: `--app -rf` is no app, whatever file it would name.
  if (!name || appNameProblem(name)) {
    return { error: `--app needs an app name (letters, digits, . _ -, starting with a letter or digit) before the command, as in ./deploy.ts --app shop deploy; got ${JSON.stringify(name ?? '')}; nothing was changed` };
  }
  const file = appEnvFile(projectDir, name);
  // `init` writes it; every other command needs it.
  if (!exists(file) && rest[0] !== 'init') {
    return { error: `no configuration for app ${name}: ${file} does not exist; nothing was changed; create it with ./deploy.ts --app ${name} init --repo URL --root DIR (or ls ${path.join(projectDir, APPS_DIR)} for the apps there are)` };
  }
  if (env.DEPLOY_ENV_FILE && path.resolve(env.DEPLOY_ENV_FILE) !== file) {
    return { error: `--app ${name} means ${file}, but DEPLOY_ENV_FILE is set to ${env.DEPLOY_ENV_FILE}; nothing was changed; use one or the other` };
  }
  return { argv: rest, env: { ...env, DEPLOY_ENV_FILE: file, SWITCHYARD_APP: name } };
}

/**
 * Where `init` writes when not told (--config): `.env` beside deploy.ts for the first app; for an app
 * named with `--app` (before the command, or init's own flag) whose name differs from the APP_NAME of
 * an existing `.env`, `apps/<name>.env`, so a second app never touches the first one's file.
 */
export function defaultInitEnvFile(projectDir: string, appName: string | undefined, read: (file: string) => string | undefined): string {
  const shared = path.join(projectDir, '.env');
  if (!appName) return shared;
  const perApp = appEnvFile(projectDir, appName);
  if (read(perApp) !== undefined) return perApp;
  const text = read(shared);
  const existing = text === undefined ? undefined : /^\s*APP_NAME\s*=\s*["']?([^"'\s#]+)/m.exec(text)?.[1];
  return text === undefined || existing === appName ? shared : perApp;
}
