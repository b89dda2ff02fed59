import { cycleContext, loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { restart } from '../lib/cycle/cycle.ts';
import { SwitchyardError } from '../lib/errors.ts';

export const summary = SPECS.restart.summary;
export const help = renderHelp(SPECS.restart, `Starts the live release again on the idle slot (no fetch, no install, no build), waits until it is
healthy, moves traffic to it and drains the slot that served it: a restart with zero downtime, for
a changed app environment or an app that leaks. Refuses, changing nothing, when nothing is live.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    const { args: given } = parseCommandLine(SPECS.restart, io.argv);
    if (given.length > 0) throw new SwitchyardError('restart takes no arguments', { untouched: 'nothing was changed', next: 'see ./deploy.ts restart --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    await restart(cycleContext(io, config, reporter));
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
