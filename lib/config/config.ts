import path from 'node:path';
import { CONFIG_KEYS, KNOWN_KEYS, type ConfigKey } from './keys.ts';
import { parseDuration } from './duration.ts';
import { parseShare, parseSteps } from '../canary/share.ts';
import { SwitchyardError } from '../errors.ts';
import { collectSecrets } from './redact.ts';
import { parseTls, type TlsConfig } from './tls.ts';
import { parseJudgeSettings, type JudgeSettings } from './judge-settings.ts';
import { parseCheckUrl, parseNginxFront, parseNginxPaths } from './nginx-settings.ts';
import { parseSlotSettings } from './slot-settings.ts';

export { SLOTS, otherSlot, type SlotName } from './slots.ts';
import type { SlotName } from './slots.ts';
export type SwitchKind = 'nginx-live-file' | 'nginx-reload' | 'passive' | 'command' | 'none';
export const SWITCH_KINDS: readonly SwitchKind[] = ['nginx-live-file', 'nginx-reload', 'passive', 'command', 'none'];
/** Older names still accepted, with a warning: `nginx` was the reload mode when it was the default. */
const SWITCH_ALIASES: Record<string, SwitchKind> = { nginx: 'nginx-reload' };
export type ProcessManagerKind = 'builtin' | 'systemd';
export type SlotListen = 'port' | 'socket';
/** One SHARED_PATHS entry: `uploads/` is { path: 'uploads', dir: true }. */
export type { SharedPath } from './values.ts';
import type { RawSettings } from './settings.ts';
export { appNameProblem, checkUrlFor, editDistance, parseBuildCachePaths, parseListen, parseSharedPaths, parseSize, suggestKey } from './values.ts';
import { appNameProblem, healthPathProblem, parseBuildCachePaths, parseSharedPaths, parseSize, type SharedPath } from './values.ts';

export type Config = {
  appName: string;
  repo: string;
  branch: string;
  deployRoot: string;
  /** PORT_A, PORT_B: the first port of each slot (its only one unless INSTANCES > 1). */
  ports: Record<SlotName, number>;
  /** SLOT_LISTEN, INSTANCES and where sockets live: lib/slot/endpoints.ts turns these into each slot's addresses. */
  slotListen: SlotListen;
  instances: number;
  socketDir: string;
  host: string;
  installCmd: string;
  buildCmd: string;
  /** BUILD_CACHE_PATHS: relative folders carried from a kept release into a new one before BUILD_CMD (lib/release/build-cache.ts). */
  buildCachePaths: string[];
  /** RELEASE_CMD: run once per commit in the new release before it takes traffic (lib/cycle/steps/release.ts); '' for none. */
  releaseCmd: string;
  releaseTimeoutMs: number;
  startCmd: string;
  healthPath: string;
  healthTimeoutMs: number;
  stopTimeoutMs: number;
  /** LONG_LIVED_TIMEOUT: how long a retiring slot's long-lived connections may stay before SIGTERM (lib/cycle/retire.ts). */
  longLivedTimeoutMs: number;
  keepReleases: number;
  bakeTimeMs: number;
  autoRollback: boolean;
  /** CANARY and CANARY_STEPS: the share (0: off) a new release gets first, and the shares it moves through (lib/canary/). */
  canaryShare: number;
  canarySteps: number[];
  /** The judging keys: how the bake window (and a canary) judges the new slot by nginx's figures (lib/judge). */
  judge: JudgeSettings;
  switchKind: SwitchKind;
  /** SWITCH=command: SWITCH_CMD and SWITCH_CHECK_CMD (empty when not set), run by /bin/sh as written. */
  command: { switchCmd: string; checkCmd: string };
  nginx: {
    upstreamFile: string;
    testCmd: string;
    reloadCmd: string;
    /** NGINX_HELPER's words ([] when unset). */
    helper: string[];
    pidFile: string;
    checkUrl: string;
    liveDir: string;
    /** NGINX_ACCESS_LOG, or null for off. */
    accessLog: string | null;
    listen: string;
    serverName: string;
    stickyPaths: string[];
    checkHost?: string;
    /** NGINX_TLS and the keys behind it (lib/config/tls.ts). */
    tls: TlsConfig;
  };
  processManager: ProcessManagerKind;
  systemdScope: 'system' | 'user';
  hooksDir: string;
  /** APP_ENV_FILE, absolute: the app's own variables (lib/config/app-env.ts). */
  appEnvFile: string;
  /** SHARED_PATHS: relative paths kept under DEPLOY_ROOT/shared and linked into each build (lib/release/shared-paths.ts). */
  sharedPaths: SharedPath[];
  /** LOG_MAX_SIZE in bytes and LOG_KEEP: the supervisor's log rotation. */
  logMaxBytes: number;
  logKeep: number;
  /** Where the values came from, for messages. */
  envFile: string;
  /** Keys in the env file Switchyard does not know (likely typos). */
  unknownKeys: string[];
  /** Settings that work but should be changed (an old name), one line each. */
  notices: string[];
  /** Values never to print (credentials in REPO, values of *_TOKEN/*_SECRET/... keys in the env file). */
  secrets: string[];
  /** The environment the command was started with: what Switchyard's own commands (git, nginx, sudo) run with (lib reads no environment of its own). */
  commandEnv: Record<string, string | undefined>;
};

/** Folders that must never be DEPLOY_ROOT itself. */
const SYSTEM_FOLDERS = new Set(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var', '/var/lib', '/var/log', '/var/run', '/var/tmp']);

export { SECRET_KEY_PATTERN } from './redact.ts';


/** Validate everything at once; throws one error naming every bad key. Pure. */
export function resolveConfig(settings: RawSettings, required: readonly ConfigKey[] = requiredKeys()): Config {
  const { fileValues, env, envFile } = settings;
  const baseDir = path.dirname(envFile);
  const raw = (key: ConfigKey): string | undefined => env[key] ?? fileValues[key];
  const problems: string[] = [];
  const value = (key: ConfigKey): string => {
    const given = raw(key);
    if (given !== undefined && given !== '') return given;
    const spec = CONFIG_KEYS[key] as { default?: string };
    return spec.default ?? '';
  };
  const absent = required.filter((key) => !raw(key));
  if (settings.missingFile && absent.length > 0) {
    throw new SwitchyardError(`no .env at ${envFile} (and ${absent.join(', ')} not set in the environment)`, {
      untouched: 'nothing was changed',
      next: `create it: \`cp ${path.join(baseDir, '.env.example')} ${envFile}\` and edit it, or \`./deploy.ts init --app NAME --repo URL --root DIR\``,
    });
  }
  for (const key of absent) problems.push(`${key} is required (${CONFIG_KEYS[key].doc})`);

  const appName = value('APP_NAME');
  const appNameWrong = appName ? appNameProblem(appName) : undefined;
  if (appNameWrong) problems.push(`APP_NAME ${appNameWrong}; got ${JSON.stringify(appName)}`);
  const { ports, instances, slotListen, width } = parseSlotSettings(value, problems);

  const duration = (key: 'HEALTH_TIMEOUT' | 'STOP_TIMEOUT' | 'LONG_LIVED_TIMEOUT' | 'RELEASE_TIMEOUT'): number => {
    const text = value(key);
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) problems.push(`${key} must be a duration such as 30, 30s or 500ms; got ${JSON.stringify(text)}`);
    return ms ?? 0;
  };
  const bakeText = value('BAKE_TIME');
  const bakeTimeMs = bakeText === '0' ? 0 : parseDuration(bakeText);
  if (bakeTimeMs === undefined) problems.push(`BAKE_TIME must be a duration such as 5m, 90s or 0 (off); got ${JSON.stringify(bakeText)}`);
  const autoRollbackText = value('AUTO_ROLLBACK');
  if (!['on', 'off'].includes(autoRollbackText)) problems.push(`AUTO_ROLLBACK must be on or off; got ${JSON.stringify(autoRollbackText)}`);
  const canaryText = value('CANARY');
  const canaryShare = parseShare(canaryText);
  if (canaryShare === undefined || canaryShare >= 100) problems.push(`CANARY must be a share such as 5% (0 turns it off, below 100%); got ${JSON.stringify(canaryText)}`);
  const canaryStepsText = value('CANARY_STEPS');
  const canarySteps = parseSteps(canaryStepsText);
  if (!canarySteps) problems.push(`CANARY_STEPS must be rising shares below 100% such as "5% 25% 50%"; got ${JSON.stringify(canaryStepsText)}`);
  const keepText = value('KEEP_RELEASES');
  const keepReleases = /^\d{1,4}$/.test(keepText) ? Number(keepText) : NaN;
  if (!(keepReleases >= 1)) problems.push(`KEEP_RELEASES must be a whole number of at least 1; got ${JSON.stringify(keepText)}`);
  const judge = parseJudgeSettings((key) => value(key as ConfigKey), ports.a, problems);
  const healthTimeoutMs = duration('HEALTH_TIMEOUT');
  const stopTimeoutMs = duration('STOP_TIMEOUT');
  const longLivedTimeoutMs = duration('LONG_LIVED_TIMEOUT');
  const releaseTimeoutMs = duration('RELEASE_TIMEOUT');

  const notices: string[] = (settings.duplicates ?? []).map((line) => `${line} in ${envFile}`);
  const switchGiven = value('SWITCH');
  const switchKind = SWITCH_ALIASES[switchGiven] ?? switchGiven;
  if (switchKind !== switchGiven) notices.push(`SWITCH=${switchGiven} is the old name of SWITCH=${switchKind} (it reloads nginx on every switch); set SWITCH=${switchKind} to keep it, or move to the default nginx-live-file (no reload, zero failed requests; see the README)`);
  if (!(SWITCH_KINDS as string[]).includes(switchKind)) problems.push(`SWITCH must be ${SWITCH_KINDS.join(', ')}; got ${JSON.stringify(switchGiven)}`);
  // The canary's buckets live in the live-file site only.
  if (canaryShare && switchKind !== 'nginx-live-file') problems.push(`CANARY=${canaryText} needs SWITCH=nginx-live-file (its site sends the canary's buckets to the new slot without a reload); got SWITCH=${switchGiven}; set CANARY=0 or SWITCH=nginx-live-file`);
  const switchCmd = value('SWITCH_CMD');
  const checkCmd = value('SWITCH_CHECK_CMD');
  if (switchKind === 'command' && !switchCmd.trim()) problems.push('SWITCH=command requires SWITCH_CMD: the command that sends traffic to $SWITCHYARD_SLOT (see templates/haproxy/switch.sh)');
  for (const [key, given] of [['SWITCH_CMD', switchCmd], ['SWITCH_CHECK_CMD', checkCmd]] as const) {
    if (given.trim() && switchKind !== 'command' && (SWITCH_KINDS as string[]).includes(switchKind)) notices.push(`${key} is set but SWITCH=${switchKind}, so it is not used; set SWITCH=command to use it, or remove it`);
  }
  const { listen, listenPort, serverName, stickyPaths } = parseNginxFront(value, { ports, width, slotListen, switchKind }, problems);
  const processManager = value('PROCESS_MANAGER');
  if (!['builtin', 'systemd'].includes(processManager)) problems.push(`PROCESS_MANAGER must be builtin or systemd; got ${JSON.stringify(processManager)}`);
  // The systemd unit runs one process per slot on a port; sockets and pools are the builtin supervisor's.
  if (processManager === 'systemd' && slotListen === 'socket') problems.push('SLOT_LISTEN=socket needs PROCESS_MANAGER=builtin (the systemd unit runs a slot on its port only)');
  // The sockets' folder is given to nginx's workers' group, read from the running nginx.
  if (slotListen === 'socket' && (switchKind === 'command' || switchKind === 'none')) problems.push(`SLOT_LISTEN=socket needs SWITCH=nginx-live-file, nginx-reload or passive (the sockets are made reachable by nginx's workers only); got SWITCH=${switchKind}`);
  if (processManager === 'systemd' && instances > 1) problems.push(`INSTANCES=${instances} needs PROCESS_MANAGER=builtin (the systemd unit runs one process per slot)`);

  const systemdScope = value('SYSTEMD_SCOPE');
  if (!['system', 'user'].includes(systemdScope)) problems.push(`SYSTEMD_SCOPE must be system or user; got ${JSON.stringify(systemdScope)}`);
  const healthPath = value('HEALTH_PATH');
  const healthPathWrong = healthPathProblem(healthPath);
  if (healthPathWrong) problems.push(`HEALTH_PATH ${healthPathWrong}; got ${JSON.stringify(healthPath)}`);
  const host = value('HOST');
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) problems.push(`HOST must be an address or host name; got ${JSON.stringify(host)}`);
  const branch = value('DEPLOY_BRANCH');
  if (branch.startsWith('-') || /[\s\0~^:?*[\\]|\.\.|@\{/.test(branch)) problems.push(`DEPLOY_BRANCH is not a valid branch name; got ${JSON.stringify(branch)}`);
  for (const key of ['REPO', 'DEPLOY_ROOT', 'NGINX_UPSTREAM_FILE', 'NGINX_PID_FILE', 'NGINX_LIVE_DIR', 'HOOKS_DIR', 'APP_ENV_FILE'] as const) {
    if (/[\0\n]/.test(value(key))) problems.push(`${key} must not contain newlines or NUL characters`);
  }
  const repo = value('REPO');
  if (repo.startsWith('-')) problems.push(`REPO must be a git URL or a path, not an option; got ${JSON.stringify(repo)}`);
  const tls = parseTls(value, raw, { appName, serverName, listen }, problems);
  const checkUrl = parseCheckUrl(raw('NGINX_CHECK_URL'), { listen, listenPort }, tls, problems);

  const sharedPaths = parseSharedPaths(value('SHARED_PATHS'), problems);
  const buildCachePaths = parseBuildCachePaths(raw('BUILD_CACHE_PATHS') ?? CONFIG_KEYS.BUILD_CACHE_PATHS.default, problems);
  const logMaxBytes = parseSize(value('LOG_MAX_SIZE'));
  if (logMaxBytes === undefined || logMaxBytes < 1024) problems.push(`LOG_MAX_SIZE must be a size of at least 1K such as 10M, 500K or 1048576; got ${JSON.stringify(value('LOG_MAX_SIZE'))}`);
  const logKeep = /^\d{1,3}$/.test(value('LOG_KEEP')) ? Number(value('LOG_KEEP')) : NaN;
  if (!(logKeep >= 1)) problems.push(`LOG_KEEP must be a whole number of at least 1; got ${JSON.stringify(value('LOG_KEEP'))}`);
  const rootGiven = value('DEPLOY_ROOT');
  if (rootGiven && SYSTEM_FOLDERS.has(path.resolve(baseDir, rootGiven))) {
    problems.push(`DEPLOY_ROOT must be a folder of its own such as /srv/${appName || 'myapp'}, not the system folder ${path.resolve(baseDir, rootGiven)} (Switchyard makes it private and writes its state, releases, pid files and logs there)`);
  }
  const deployRoot = path.resolve(baseDir, value('DEPLOY_ROOT'));
  const { upstreamFile, liveDir, accessLog } = parseNginxPaths(value, raw, { baseDir, deployRoot, switchKind }, problems);

  if (problems.length > 0) {
    throw new SwitchyardError(`invalid configuration in ${envFile} or the environment: ${problems.join('; ')}`, {
      untouched: 'nothing was changed',
      next: 'fix the named keys (every key is documented in .env.example)',
      details: problems,
    });
  }

  const socketDir = path.join(deployRoot, 'sockets');
  // sockaddr_un holds 107 bytes of path: a longer DEPLOY_ROOT cannot hold the slots' sockets.
  if (slotListen === 'socket' && Buffer.byteLength(path.join(socketDir, `a${instances}.sock`)) > 107) {
    throw new SwitchyardError(`SLOT_LISTEN=socket: the socket path ${path.join(socketDir, `a${instances}.sock`)} is longer than the 107 bytes a unix socket address holds`, {
      untouched: 'nothing was changed',
      next: 'use a shorter DEPLOY_ROOT such as /srv/myapp, or SLOT_LISTEN=port',
    });
  }
  const isLocalPath = !/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !/^[^/]+@[^/]+:/.test(repo);
  return {
    appName,
    repo: isLocalPath && repo ? path.resolve(baseDir, repo) : repo,
    branch,
    deployRoot,
    ports,
    slotListen: slotListen as SlotListen,
    instances,
    socketDir,
    host,
    installCmd: raw('INSTALL_CMD') ?? CONFIG_KEYS.INSTALL_CMD.default,
    buildCmd: raw('BUILD_CMD') ?? CONFIG_KEYS.BUILD_CMD.default,
    buildCachePaths,
    releaseCmd: raw('RELEASE_CMD') ?? CONFIG_KEYS.RELEASE_CMD.default,
    releaseTimeoutMs,
    startCmd: value('START_CMD'),
    healthPath,
    healthTimeoutMs,
    stopTimeoutMs,
    longLivedTimeoutMs,
    keepReleases,
    bakeTimeMs: bakeTimeMs ?? 0,
    autoRollback: autoRollbackText === 'on',
    canaryShare: canaryShare ?? 0,
    canarySteps: canarySteps ?? [],
    judge,
    switchKind: switchKind as SwitchKind,
    command: { switchCmd, checkCmd },
    nginx: {
      upstreamFile,
      liveDir,
      accessLog,
      testCmd: value('NGINX_TEST_CMD'),
      reloadCmd: value('NGINX_RELOAD_CMD'),
      helper: value('NGINX_HELPER').trim().split(/\s+/).filter(Boolean),
      pidFile: path.resolve(baseDir, value('NGINX_PID_FILE')),
      checkUrl,
      listen,
      serverName,
      stickyPaths,
      tls,
      // The site's first plain name, sent as Host with NGINX_CHECK_URL: with several sites on the port, nginx picks by it.
      checkHost: serverName.split(' ').find((name) => name !== '_' && !/[*~^$]/.test(name)),
    },
    processManager: processManager as ProcessManagerKind,
    systemdScope: systemdScope as 'system' | 'user',
    hooksDir: path.resolve(baseDir, value('HOOKS_DIR')),
    appEnvFile: raw('APP_ENV_FILE') ? path.resolve(baseDir, raw('APP_ENV_FILE') as string) : path.join(deployRoot, 'shared', 'app.env'),
    sharedPaths,
    logMaxBytes: logMaxBytes ?? 0,
    logKeep,
    envFile,
    unknownKeys: Object.keys(fileValues).filter((key) => !(KNOWN_KEYS as string[]).includes(key)),
    notices,
    secrets: collectSecrets({ ...env, ...fileValues }, repo),
    commandEnv: env,
  };
}

export function requiredKeys(): ConfigKey[] {
  return KNOWN_KEYS.filter((key) => (CONFIG_KEYS[key] as { required?: boolean }).required);
}
