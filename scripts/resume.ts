import { describeEndpoints, slotEndpoints } from '../lib/slot/endpoints.ts';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { loadAppEnvironment } from '../lib/host/app-env-file.ts';
import { interruptionSignal, loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { currentUser } from '../lib/record/lock.ts';
import { createSlotProcesses } from '../lib/slot/process-manager.ts';
import { resumeLive } from '../lib/cycle/resume.ts';
import { shortCommit } from '../lib/record/state.ts';

export const summary = SPECS.resume.summary;
export const help = renderHelp(SPECS.resume, `After a reboot (or anything that killed the slots): starts the live slot the state records, from
its own folder (the same release), with the app's environment (APP_ENV_FILE as it is now), if it is
not running; waits until HEALTH_PATH answers 2xx; then confirms the switch points at it (SWITCH,
checked through nginx). Nothing else changes: no fetch, no build, no hook, the idle slot is left as
it is. Takes the deploy lock. With nothing live yet it says so and exits 0.
\`./deploy.ts install-boot\` makes the host run it at boot.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    const { args: given } = parseCommandLine(SPECS.resume, io.argv);
    if (given.length > 0) throw new SwitchyardError('resume takes no arguments', { untouched: 'nothing was changed', next: 'see ./deploy.ts resume --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    const signal = interruptionSignal(reporter);
    const processes = createSlotProcesses(config, loadAppEnvironment(config, io.env));
    const outcome = await resumeLive({ config, reporter, processes, user: currentUser(io.env), signal });
    if (!outcome.slot) {
      reporter.success('nothing to resume: no slot is live yet');
      return 0;
    }
    const how = outcome.started ? `started again (pid ${outcome.pid})` : `was already running (pid ${outcome.pid})`;
    reporter.success(`resumed: slot ${outcome.slot} (${shortCommit(outcome.commit)}) on ${describeEndpoints(slotEndpoints(config, outcome.slot))} ${how}, healthy, and traffic goes to it`);
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
