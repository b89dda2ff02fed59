import { cycleContext, loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { rollback } from '../lib/cycle/cycle.ts';
import { printPlan } from './dry-run.ts';
import { SwitchyardError } from '../lib/errors.ts';

export const summary = SPECS.rollback.summary;
export const help = renderHelp(SPECS.rollback, `Starts a kept release on the idle slot (no fetch, no install, no build), waits until it is healthy,
moves traffic to it and drains the current slot.

Without COMMIT it goes to the previous GOOD release: the newest one that was live before the live
one, skipping releases that were rolled back from and releases no longer kept. COMMIT (a unique
prefix of a kept release's SHA, or a tag or branch the local mirror resolves to one) goes to any
kept release; \`./deploy.ts releases\` lists them. Refuses, changing nothing, when there is none.

During a canary (deploy --canary) a plain rollback ends it instead: every user back on the live slot
at once (the canary files removed), then the canary slot drained and stopped; the deploy is recorded
as failed. rollback COMMIT is refused then.

--dry-run prints the plan (which release, which slot, each step) and changes nothing: no lock, no
state write.
--json prints one JSON event per line (step with its duration in ms, output, warning, error,
success; plan with --dry-run) instead of text lines.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    const { flags, args } = parseCommandLine(SPECS.rollback, io.argv);
    if (args.length > 1) throw new SwitchyardError(`rollback takes at most one commit; got ${args.length} arguments`, { untouched: 'nothing was changed', next: 'see ./deploy.ts rollback --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    if (flags['dry-run'] === true) return await printPlan(config, reporter, 'rollback', args[0]);
    await rollback(cycleContext(io, config, reporter), args[0]);
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
