import path from 'node:path';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { appFiles, readLogTail, readStatus, runningPid, startApp, stopApp } from '../lib/slot/app-process.ts';
import { childEnv } from '../lib/cli/command.ts';
import { formatDuration } from '../lib/config/duration.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { portInUse, refuseTakenPort } from '../lib/slot/health.ts';
import { runDir } from '../lib/slot/slots.ts';

export const command = defineCommand({
  spec: SPECS.start,
  config: ['DEPLOY_ROOT'],
  untouched: 'nothing was started',
  help: `Runs START_CMD (default \`npm start\`) in APP_DIR with PORT and HOST set, detached from the terminal
(it survives the end of the SSH session), under a small supervisor that restarts it with backoff
when it crashes. Output is appended to DEPLOY_ROOT/run/<APP_NAME>.log; the supervisor's pid (also the
process group) is in DEPLOY_ROOT/run/<APP_NAME>.pid. Waits until the port accepts connections
(at most HEALTH_TIMEOUT) and fails with the log's last lines if the app exits first.
`,
  check({ args }) {
    portOf(args.PORT);
  },
  async run({ io, args, config, reporter }) {
    const { APP_NAME: name, APP_DIR: dirArg } = args;
    const port = portOf(args.PORT);
    const files = appFiles(runDir(config), name);
    await refuseTakenPort(config.host, port, name);
    const step = reporter.step('start');
    const pid = startApp({
      name,
      dir: path.resolve(dirArg),
      port,
      host: config.host,
      command: config.startCmd,
      runDir: runDir(config),
      env: childEnv(io.env),
      logMaxBytes: config.logMaxBytes,
      logKeep: config.logKeep,
    });
    const started = Date.now();
    while (Date.now() - started < config.healthTimeoutMs) {
      const status = readStatus(files);
      if ((status && status.exits.length > 0) || !runningPid(files)) {
        step.fail();
        await stopApp(files, config.stopTimeoutMs);
        throw new SwitchyardError(`${name} exited right after starting`, {
          untouched: 'its supervisor was stopped',
          next: `fix the app; the whole log is ${files.logFile}`,
          details: readLogTail(files.logFile, 20).map((line) => `log: ${line}`),
        });
      }
      if (await portInUse(config.host, port)) {
        step.done(`${name} (pid ${pid}) listens on ${config.host}:${port}; log: ${files.logFile}`);
        return 0;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    step.fail();
    reporter.warn(`${name} is running (pid ${pid}) but nothing listens on port ${port} after ${formatDuration(config.healthTimeoutMs)}; it was left running; log: ${files.logFile}`);
    return 1;
  },
});

function portOf(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new SwitchyardError(`PORT must be a number 1-65535; got ${JSON.stringify(text)}`, { untouched: 'nothing was started', exitCode: 2 });
  return port;
}
