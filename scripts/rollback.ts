import { cycleContext, loadConfig, makeReporter, positionals, rejectUnknownFlags, reportFailure, type CommandIo } from '../lib/cli.ts';
import { rollback } from '../lib/cycle.ts';
import { SwitchyardError } from '../lib/errors.ts';

export const summary = "bring the other slot's build back";
export const help = `Usage: ./deploy.ts rollback [--json] [--no-color]

Starts the idle slot from the build it kept (no fetch, no install, no build), waits until it is
healthy, moves traffic to it and drains the current slot. Refuses when the idle slot has never been
built or its build was replaced by a failed deploy.

--json prints one JSON event per line (step with its duration in ms, output, warning, error,
success) instead of text lines.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`;

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    rejectUnknownFlags(io.argv, ['--json']);
    if (positionals(io.argv).length > 0) throw new SwitchyardError('rollback takes no arguments', { untouched: 'nothing was changed', next: 'to deploy a given commit use ./deploy.ts deploy <commit>', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    await rollback(cycleContext(io, config, reporter));
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
