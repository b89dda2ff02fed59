import { cycleContext, loadConfig, makeReporter, positionals, rejectUnknownFlags, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { restart } from '../lib/cycle/cycle.ts';
import { SwitchyardError } from '../lib/errors.ts';

export const summary = 'restart the live release with zero downtime';
export const help = `Usage: ./deploy.ts restart [--json] [--no-color]

Starts the live release again on the idle slot (no fetch, no install, no build), waits until it is
healthy, moves traffic to it and drains the slot that served it: a restart with zero downtime, for
a changed app environment or an app that leaks. Refuses, changing nothing, when nothing is live.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`;

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    rejectUnknownFlags(io.argv, ['--json']);
    if (positionals(io.argv).length > 0) throw new SwitchyardError('restart takes no arguments', { untouched: 'nothing was changed', next: 'see ./deploy.ts restart --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    await restart(cycleContext(io, config, reporter));
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
