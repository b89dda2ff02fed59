import { cycleContext, hasFlag, loadConfig, makeReporter, positionals, rejectUnknownFlags, reportFailure, type CommandIo } from '../lib/cli.ts';
import { printPlan } from './dry-run.ts';
import { deploy } from '../lib/cycle.ts';
import { SwitchyardError } from '../lib/errors.ts';

export const summary = 'build the idle slot from git and move traffic to it';
export const help = `Usage: ./deploy.ts deploy [COMMIT] [--dry-run] [--json] [--no-color]

Builds COMMIT (a SHA, tag or branch; default: the newest commit of DEPLOY_BRANCH) in the idle slot,
starts it, waits until HEALTH_PATH answers 2xx, moves traffic to it, then sends SIGTERM to the old
slot and waits for it to drain (SIGKILL after STOP_TIMEOUT). The old slot's build is kept for
\`rollback\`. Any failure before the switch leaves the live slot and traffic untouched.

--dry-run prints the plan (slot, port, commit, commands, switch, hooks) and changes nothing: no
lock, no fetch (the commit is looked up in the local mirror as of the last deploy), no state write.
--json prints one JSON event per line (step with its duration in ms, output, warning, error,
success) instead of text lines.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`;

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    rejectUnknownFlags(io.argv, ['--json', '--dry-run']);
    const args = positionals(io.argv);
    if (args.length > 1) throw new SwitchyardError(`deploy takes at most one commit; got ${args.length} arguments`, { untouched: 'nothing was changed', next: 'see ./deploy.ts deploy --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    if (hasFlag(io.argv, '--dry-run')) return await printPlan(config, reporter, 'deploy', args[0]);
    await deploy(cycleContext(io, config, reporter), args[0]);
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
