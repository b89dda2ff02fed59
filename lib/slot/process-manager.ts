import { readdirSync } from 'node:fs';
import { appFiles, readLogTail, readStatus, recordSupervisor, runningPid, spawnSupervisor, stopApp, type AppFiles } from './app-process.ts';
import { instanceName, portValue, slotEndpoints, type Endpoint } from './endpoints.ts';
import type { Config, SlotName } from '../config/config.ts';
import { slotEnvironment } from './endpoints.ts';
import { writeFileAtomic } from '../host/files.ts';
import { isAlive, stopGroup, type StopOutcome } from '../host/process.ts';
import { capture, runCommand } from '../host/run.ts';
import { runDir, slotDir, slotFiles } from './slots.ts';
import { parseMainPid, renderSlotEnv, slotEnvFile, unitName } from './systemd.ts';
import { systemctlArgv } from '../host/commands/systemctl.ts';

/** How a slot's app is started, watched and stopped: the built-in supervisor, or systemd units. */
export interface SlotProcesses {
  /** Start the slot's app (INSTANCES processes, one per endpoint) in `dir` (default: the slot's folder) with the app's environment plus PORT, HOST, SWITCHYARD_SLOT; returns the first one's pid. */
  start(slot: SlotName, dir?: string, onSpawned?: SpawnedHook): Promise<number>;
  /** SIGTERM, wait STOP_TIMEOUT, SIGKILL, every instance at once; says which happened (the worst of them). */
  stop(slot: SlotName, onWait?: (elapsedMs: number) => void): Promise<StopOutcome>;
  /** A running process of the slot (the first instance's, if it runs), or undefined when none runs. */
  runningPid(slot: SlotName): Promise<number | undefined>;
  /** True once the app (any instance) has exited since its start (crashed on boot), so the health wait can stop at once. */
  hasExited(slot: SlotName): Promise<boolean>;
  logTail(slot: SlotName, lines: number): string[];
}

/** Called between a supervisor's spawn and its pid file (the kill tests' `supervisor-spawned` point). */
export type SpawnedHook = (name: string, pid: number) => Promise<void> | void;

/** `env`: the app's environment (lib/config/app-env.ts, ctx.env of the cycle), the same for both managers. */
export function createSlotProcesses(config: Config, env: Record<string, string | undefined>): SlotProcesses {
  return config.processManager === 'systemd' ? systemdProcesses(config, env) : builtinProcesses(config, env);
}

/** One process of a slot: its endpoint and the supervisor's files (pid, log, status) in DEPLOY_ROOT/run. */
export type SlotInstance = { endpoint: Endpoint; name: string; files: AppFiles };

/** The slot's instances as configured, plus any left running from a larger INSTANCES (so they are stopped too). */
export function slotInstances(config: Config, slot: SlotName, options: { withLeftovers?: boolean } = {}): SlotInstance[] {
  const instance = (endpoint: Endpoint): SlotInstance => {
    const name = instanceName(config.appName, slot, endpoint);
    return { endpoint, name, files: appFiles(runDir(config), name) };
  };
  const configured = slotEndpoints(config, slot).map(instance);
  if (!options.withLeftovers) return configured;
  const prefix = `${config.appName}-${slot}.`;
  let names: string[] = [];
  try {
    names = readdirSync(runDir(config));
  } catch {
    // No run folder yet: nothing left over.
  }
  const leftovers = names
    .map((file) => (file.startsWith(prefix) && file.endsWith('.pid') ? Number(file.slice(prefix.length, -'.pid'.length)) : NaN))
    .filter((number) => Number.isInteger(number) && number > config.instances)
    .map((number) => instance({ ...slotEndpoints({ ...config, instances: number }, slot)[number - 1] }));
  return [...configured, ...leftovers];
}

/** A slot's stop is as bad as its worst instance's: killed over exited over not running. Pure. */
export function combineStops(outcomes: StopOutcome[]): StopOutcome {
  const rank = { killed: 2, exited: 1, 'not-running': 0 } as const;
  const worst = outcomes.reduce<StopOutcome>((acc, each) => (rank[each.result] > rank[acc.result] ? { ...each } : acc), { result: 'not-running', waitedMs: 0 });
  return { ...worst, waitedMs: Math.max(0, ...outcomes.map((each) => each.waitedMs)) };
}

export function builtinProcesses(config: Config, env: Record<string, string | undefined>): SlotProcesses {
  return {
    async start(slot, dir = slotDir(config, slot), onSpawned) {
      const started: { instance: SlotInstance; pid: number }[] = [];
      try {
        for (const instance of slotInstances(config, slot)) {
          const { pid, files } = spawnSupervisor({
            name: instance.name,
            dir,
            port: portValue(instance.endpoint),
            socket: instance.endpoint.kind === 'socket' ? instance.endpoint.path : undefined,
            host: config.host,
            command: config.startCmd,
            runDir: runDir(config),
            env: slotEnvironment(env, { endpoint: instance.endpoint, host: config.host, slot }),
            logMaxBytes: config.logMaxBytes,
            logKeep: config.logKeep,
          });
          started.push({ instance, pid });
          await onSpawned?.(instance.name, pid);
          recordSupervisor(instance.name, files, pid);
        }
      } catch (error) {
        // All of a slot or none of it: a half-started pool is stopped again (by the pid we spawned, if its pid file is not written yet).
        await Promise.all(started.map(async ({ instance, pid }) => ((await stopApp(instance.files, config.stopTimeoutMs)).result === 'not-running' ? stopGroup(pid, config.stopTimeoutMs) : undefined)));
        throw error;
      }
      return started[0].pid;
    },
    async stop(slot, onWait) {
      const instances = slotInstances(config, slot, { withLeftovers: true });
      return combineStops(await Promise.all(instances.map((instance) => stopApp(instance.files, config.stopTimeoutMs, onWait))));
    },
    runningPid: async (slot) =>
      slotInstances(config, slot, { withLeftovers: true })
        .map((instance) => runningPid(instance.files))
        .find((pid) => pid !== undefined),
    async hasExited(slot) {
      return slotInstances(config, slot).some((instance) => {
        const status = readStatus(instance.files);
        return (status !== undefined && status.exits.length > 0) || runningPid(instance.files) === undefined;
      });
    },
    logTail(slot, lines) {
      const instances = slotInstances(config, slot);
      if (instances.length === 1) return readLogTail(instances[0].files.logFile, lines);
      return instances.flatMap((instance) => readLogTail(instance.files.logFile, Math.max(3, Math.ceil(lines / instances.length))).map((line) => `[${instance.name}] ${line}`));
    },
  };
}

type Runner = { run: (argv: string[]) => Promise<unknown>; capture: (argv: string[]) => Promise<string> };

/**
 * PROCESS_MANAGER=systemd: the unit templates/systemd/APP@.service, one instance per slot. Its
 * EnvironmentFile= is written before each start: the app's environment (APP_ENV_FILE, PATH, HOME,
 * LANG, LC_*) as it is now, then PORT, HOST, SWITCHYARD_SLOT; systemd's crash restarts reuse it, as
 * the builtin supervisor does. systemd does the SIGTERM, the STOP_TIMEOUT wait (TimeoutStopSec) and the SIGKILL.
 * The unit runs the slot folder (WorkingDirectory=), so `dir` must be it.
 */
export function systemdProcesses(
  config: Config,
  env: Record<string, string | undefined>,
  runner: Runner = {
    run: (argv) => runCommand(argv, { timeoutMs: config.stopTimeoutMs + 30_000, env: config.commandEnv }),
    capture: (argv) => capture(argv, { env: config.commandEnv }),
  },
): SlotProcesses {
  const unit = (slot: SlotName) => unitName(config.appName, slot);
  const scope = { scope: config.systemdScope };
  const mainPid = async (slot: SlotName) => {
    try {
      return parseMainPid(await runner.capture(systemctlArgv.mainPid(unit(slot), scope)));
    } catch {
      return undefined;
    }
  };
  return {
    async start(slot) {
      const slotEnv = renderSlotEnv({ port: config.ports[slot], host: config.host, slot, env });
      writeFileAtomic(slotEnvFile(config.deployRoot, config.appName, slot), slotEnv);
      await runner.run(systemctlArgv.start(unit(slot), scope));
      return (await mainPid(slot)) ?? 0;
    },
    async stop(slot) {
      const pid = await mainPid(slot);
      if (pid === undefined) return { result: 'not-running', waitedMs: 0 };
      const started = Date.now();
      await runner.run(systemctlArgv.stop(unit(slot), scope));
      // systemctl stop returns once the unit is down; past TimeoutStopSec systemd has used SIGKILL.
      const waitedMs = Date.now() - started;
      return { result: waitedMs >= config.stopTimeoutMs ? 'killed' : 'exited', waitedMs };
    },
    runningPid: mainPid,
    async hasExited(slot) {
      const pid = await mainPid(slot);
      return pid === undefined || !isAlive(pid);
    },
    logTail: (slot, lines) => readLogTail(slotFiles(config, slot).logFile, lines),
  };
}
