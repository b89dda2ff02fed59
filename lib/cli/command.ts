import path from 'node:path';
import { configDir, PROJECT_DIR } from '../project-dir.ts';
import { appEnvSecrets, loadAppEnvironment } from '../host/app-env-file.ts';
import { CONFIG_KEYS, type ConfigKey } from '../config/keys.ts';
import { resolveConfig, suggestKey, type Config } from '../config/config.ts';
import { readSettings } from '../config/settings.ts';
import type { CycleContext } from '../cycle/types.ts';
import { isSwitchyardError } from '../errors.ts';
import { createHookRunner } from '../cycle/hooks.ts';
import type { Reporter } from './reporter.ts';
import { deployerName } from '../host/deployer.ts';
import { signalProcess } from '../host/process.ts';

/** What the command frame (define-command.ts) and the commands share: config loading, interruption, the error line, a cycle's context. */

export { configDir, PROJECT_DIR };

/** `program`: the name the CLI was run as (`switchyard`, `./deploy.ts`), for the lines it prints. */
export type CommandIo = { argv: string[]; env: Record<string, string | undefined>; program?: string };

/** Flags come before `--`; after it everything is an argument (a commit may be called `-h`). */
export function hasFlag(argv: readonly string[], ...names: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => names.includes(arg));
}

export function loadConfig(io: CommandIo, reporter: Reporter, required?: ConfigKey[]): Config {
  const settings = readSettings(path.join(configDir(io.env), '.env'), io.env);
  const config = resolveConfig(settings, required);
  config.secrets.push(...appEnvSecrets(config));
  for (const key of config.unknownKeys) {
    const suggestion = suggestKey(key);
    reporter.warn(`unknown key ${key} in ${config.envFile}${suggestion ? ` (did you mean ${suggestion}?)` : ''}; it is ignored`);
  }
  for (const notice of config.notices) reporter.warn(notice);
  return config;
}

/** The environment handed to apps and commands: the operator's, minus Switchyard's own settings. */
export function childEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const result = { ...env };
  for (const key of Object.keys(CONFIG_KEYS)) delete result[key];
  delete result.DEPLOY_ENV_FILE;
  for (const key of Object.keys(result)) if (key.startsWith('SWITCHYARD_TEST_')) delete result[key];
  return result;
}

/**
 * Abort on Ctrl-C or SIGTERM. A second Ctrl-C does not kill us mid-cleanup: the cleanup is what
 * keeps the host serving. An SSH hang-up (SIGHUP, sent only when there is a TTY) is ignored: a
 * dropped connection must do the same with or without a TTY, and without one no signal arrives at
 * all, so the deploy runs to its end and its log (DEPLOY_ROOT/deploys) tells how it ended.
 */
export function interruptionSignal(reporter: Reporter): AbortSignal {
  process.on('SIGHUP', () => undefined);
  return abortOnSignals((signal) => reporter.warn(`${signal} received: before the switch, what this command started is stopped and the live slot is left serving; after it, the drain is finished first`));
}

/** Aborted by the first of `signals` (its reason: the signal's name), after `onFirst`; `onAgain`, if given, hears every later one. */
export function abortOnSignals(
  onFirst: (signal: NodeJS.Signals) => void,
  onAgain?: (signal: NodeJS.Signals) => void,
  signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): AbortSignal {
  const controller = new AbortController();
  for (const signal of signals) {
    process.on(signal, () => {
      if (controller.signal.aborted) return onAgain?.(signal);
      onFirst(signal);
      controller.abort(signal);
    });
  }
  return controller.signal;
}

/** Where a command's error line goes: its Reporter, or the fleet controller's output. */
export type FailureOutput = { error(message: string, details?: string[]): void };

/** Print the one-line error (and its details) and set the exit code; the stack only with --verbose. */
export function reportFailure(error: unknown, reporter: FailureOutput, argv: readonly string[]): number {
  if (isSwitchyardError(error)) {
    reporter.error(error.line, error.details);
    if (hasFlag(argv, '--verbose') && error.cause) console.error(error.cause);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  reporter.error(`unexpected failure: ${message}; run again with --verbose for the stack trace`);
  if (hasFlag(argv, '--verbose')) console.error(error);
  return 1;
}

/** Test-only fault injection by phase name: SWITCHYARD_TEST_FAULT=kill@build or pause@switch (waits for a file). */
export function faultInjector(env: Record<string, string | undefined>): ((phase: string) => Promise<void>) | undefined {
  const spec = env.SWITCHYARD_TEST_FAULT;
  if (!spec) return undefined;
  const [action, phase] = spec.split('@');
  return async (current: string) => {
    if (current !== phase) return;
    if (action === 'kill') signalProcess(process.pid, 'SIGKILL');
    if (action === 'pause' && env.SWITCHYARD_TEST_PAUSE_FILE) {
      const { existsSync, writeFileSync } = await import('node:fs');
      writeFileSync(`${env.SWITCHYARD_TEST_PAUSE_FILE}.reached`, current);
      while (!existsSync(env.SWITCHYARD_TEST_PAUSE_FILE)) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
}

/**
 * What a deploy or rollback runs with: interruption handling, the app's environment (APP_ENV_FILE
 * plus PATH, HOME, LANG, LC_* of the caller: nothing else of the deploying shell), hooks, fault injection.
 */
export function cycleContext(io: CommandIo, config: Config, reporter: Reporter): CycleContext {
  const signal = interruptionSignal(reporter);
  const env = loadAppEnvironment(config, io.env);
  return {
    config,
    reporter,
    env,
    // The app's environment (env) keeps none of SWITCHYARD_USER, SUDO_USER, SSH_USER_AUTH: who deploys is read now, once.
    deployer: deployerName(io.env),
    signal,
    hooks: createHookRunner(config.hooksDir, reporter, env, signal),
    atPhase: faultInjector(io.env),
    cliEnv: io.env,
  };
}
