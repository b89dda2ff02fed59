import { cycleContext, loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { watchBake } from '../lib/cycle/bake.ts';
import { currentUser } from '../lib/record/lock.ts';
import { appendFileSync } from 'node:fs';
import { deployLogPath } from '../lib/record/deploy-log.ts';

export const summary = SPECS['bake-watch'].summary;
export const help = renderHelp(SPECS['bake-watch'], `Started by deploy and rollback in its own session, never by hand: watches the new slot's health during
the bake window (BAKE_TIME) and judges nginx's figures for it each CANARY_INTERVAL (docs/canary.md),
moves traffic back to the warm previous slot after 3 failed health checks or CANARY_FAILED_WINDOWS
failed windows in a row (AUTO_ROLLBACK), and drains and stops the previous slot when the window ends. Its output is appended
to DEPLOY_ROOT/run/bake.log. It exits at once when another command has ended the window. SIGTERM
while it waits stops it with nothing changed (the next deploy, rollback or status --repair ends the
window); during a drain or an automatic rollback, that is finished first. Exits 130 then.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    // The deploy or rollback that started this watcher keeps its lines in its own log too (history --show).
    const deployLog = io.env.SWITCHYARD_DEPLOY_LOG;
    if (deployLog) {
      const file = deployLogPath(config.deployRoot, deployLog);
      reporter.teeTo((line) => appendFileSync(file, `bake-watch: ${line}\n`));
    }
    reporter.info(`[${new Date().toISOString()}] bake-watch pid ${process.pid} for ${config.appName}`);
    const ctx = cycleContext(io, config, reporter);
    const outcome = await watchBake({ config, reporter, appEnv: ctx.env, hooks: ctx.hooks, atPhase: ctx.atPhase, signal: ctx.signal, user: `${currentUser(io.env)} (bake window)` });
    reporter.info(`[${new Date().toISOString()}] ${outcome}`);
    return ctx.signal.aborted ? 130 : 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
