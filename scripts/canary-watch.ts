import { appendFileSync } from 'node:fs';
import { cycleContext } from '../lib/cli/command.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { watchCanary } from '../lib/canary/watch.ts';
import { currentUser } from '../lib/record/lock.ts';
import { deployLogPath } from '../lib/record/deploy-log.ts';
import { createSlotProcesses } from '../lib/slot/process-manager.ts';
import { SPECS } from './specs.ts';

export const command = defineCommand({
  spec: SPECS['canary-watch'],
  config: true,
  help: `Started by deploy in its own session, never by hand: every CANARY_INTERVAL judges nginx's figures of
the canary slot against the live slot's, then moves the share to the next of CANARY_STEPS, promotes
(the switch, then the bake window), or rolls back after CANARY_FAILED_WINDOWS failed windows in a
row. Its output is appended to DEPLOY_ROOT/run/canary.log. It exits at once when another command has
ended the canary. SIGTERM while it waits stops it with nothing changed; the next deploy, rollback or
status --repair then ends the canary (every user back on the live slot). Exits 130 then.
`,
  async run({ io, config, reporter }) {
    // The deploy that started this watcher keeps its lines in its own log too (history --show).
    const deployLog = io.env.SWITCHYARD_DEPLOY_LOG;
    if (deployLog) {
      const file = deployLogPath(config.deployRoot, deployLog);
      reporter.teeTo((line) => appendFileSync(file, `canary-watch: ${line}\n`));
    }
    reporter.info(`[${new Date().toISOString()}] canary-watch pid ${process.pid} for ${config.appName}`);
    const ctx = cycleContext(io, config, reporter);
    const outcome = await watchCanary({
      config,
      reporter,
      processes: createSlotProcesses(config, ctx.env),
      user: `${currentUser(io.env)} (canary)`,
      cliEnv: io.env,
      appEnv: ctx.env,
      atPhase: ctx.atPhase,
      signal: ctx.signal,
    });
    reporter.info(`[${new Date().toISOString()}] ${outcome}`);
    return ctx.signal.aborted ? 130 : 0;
  },
});
