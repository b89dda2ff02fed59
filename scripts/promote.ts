import { cycleContext, loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { promoteRunningCanary } from '../lib/canary/commands.ts';
import { SPECS } from './specs.ts';

export const summary = SPECS.promote.summary;
export const help = renderHelp(SPECS.promote, `During a canary (deploy with CANARY or --canary): skips the remaining steps and moves every user to
the canary slot now, by the ordinary switch (confirmed through nginx, no reload), then keeps the
previous slot warm for BAKE_TIME (or drains and stops it with BAKE_TIME=0). The deploy is recorded
as a success. Refuses, changing nothing, when no canary runs or the canary slot does not answer.

Exit code 0 on success; 75 when another command holds the lock.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    parseCommandLine(SPECS.promote, io.argv);
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    reporter.success(await promoteRunningCanary(cycleContext(io, config, reporter)));
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
