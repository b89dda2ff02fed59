import { readLogTail, readStatus, runningPid, startApp, stopApp } from './app-process.ts';
import type { Config, SlotName } from './config.ts';
import { slotEnvironment } from './app-env.ts';
import { writeFileAtomic } from './files.ts';
import { isAlive, type StopOutcome } from './process.ts';
import { capture, runCommand } from './run.ts';
import { runDir, slotDir, slotFiles, slotProcessName } from './slots.ts';
import { parseMainPid, renderSlotEnv, slotEnvFile, systemctlArgv, unitName } from './systemd.ts';

/** How a slot's app is started, watched and stopped: the built-in supervisor, or systemd units. */
export interface SlotProcesses {
  /** Start the slot's app in `dir` (default: the slot's folder) with the app's environment plus PORT, HOST, SWITCHYARD_SLOT. */
  start(slot: SlotName, dir?: string): Promise<number>;
  /** SIGTERM, wait STOP_TIMEOUT, SIGKILL; says which happened. */
  stop(slot: SlotName, onWait?: (elapsedMs: number) => void): Promise<StopOutcome>;
  runningPid(slot: SlotName): Promise<number | undefined>;
  /** True once the app has exited since its start (crashed on boot), so the health wait can stop at once. */
  hasExited(slot: SlotName): Promise<boolean>;
  logTail(slot: SlotName, lines: number): string[];
}

/** `env`: the app's environment (lib/app-env.ts, ctx.env of the cycle), the same for both managers. */
export function createSlotProcesses(config: Config, env: Record<string, string | undefined>): SlotProcesses {
  return config.processManager === 'systemd' ? systemdProcesses(config, env) : builtinProcesses(config, env);
}

export function builtinProcesses(config: Config, env: Record<string, string | undefined>): SlotProcesses {
  return {
    async start(slot, dir = slotDir(config, slot)) {
      return startApp({
        name: slotProcessName(config, slot),
        dir,
        port: config.ports[slot],
        host: config.host,
        command: config.startCmd,
        runDir: runDir(config),
        env: slotEnvironment(env, { port: config.ports[slot], host: config.host, slot }),
        logMaxBytes: config.logMaxBytes,
        logKeep: config.logKeep,
      });
    },
    stop: (slot, onWait) => stopApp(slotFiles(config, slot), config.stopTimeoutMs, onWait),
    runningPid: async (slot) => runningPid(slotFiles(config, slot)),
    async hasExited(slot) {
      const files = slotFiles(config, slot);
      const status = readStatus(files);
      return (status !== undefined && status.exits.length > 0) || runningPid(files) === undefined;
    },
    logTail: (slot, lines) => readLogTail(slotFiles(config, slot).logFile, lines),
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
export function systemdProcesses(config: Config, env: Record<string, string | undefined>, runner: Runner = { run: (argv) => runCommand(argv, { timeoutMs: config.stopTimeoutMs + 30_000 }), capture }): SlotProcesses {
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
      writeFileAtomic(slotEnvFile(config.deployRoot, config.appName, slot), renderSlotEnv({ port: config.ports[slot], host: config.host, slot, env }));
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
