import { loadAppEnvironment } from '../lib/host/app-env-file.ts';
import { slotEnvironment } from '../lib/slot/endpoints.ts';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { slotEndpoints } from '../lib/slot/endpoints.ts';
import { loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { runAttached } from '../lib/host/run.ts';
import { slotDir } from '../lib/slot/slots.ts';
import { loadState } from '../lib/record/state.ts';

export const summary = SPECS.exec.summary;
export const help = renderHelp(SPECS.exec, `Runs <command> in the live slot's folder (the release it runs) with exactly the app's environment:
APP_ENV_FILE, PATH, HOME, LANG, LC_*, and the live slot's PORT, HOST and SWITCHYARD_SLOT (a command
that listens must pick another port). For migrations, a console, a one-off script. The command is run
as given, an argv, never through a shell (write \`exec -- sh -c '...'\` for one); its terminal is
ours (stdin, output), and its exit code is ours. Takes no lock. Refuses when no slot is live.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    const { args: argv } = parseCommandLine(SPECS.exec, io.argv);
    if (argv.length === 0) throw new SwitchyardError('exec needs a command: ./deploy.ts exec -- <command> [args...]', { untouched: 'nothing was run', next: 'see ./deploy.ts exec --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    const state = loadState(config.deployRoot, config.appName, config.ports);
    const live = state.live;
    if (!live) throw new SwitchyardError('nothing is live, so there is no release to run the command in', { untouched: 'nothing was run', next: 'deploy first: ./deploy.ts deploy' });
    const env = slotEnvironment(loadAppEnvironment(config, io.env), {
      endpoint: slotEndpoints(config, live)[0],
      host: config.host,
      slot: live,
    });
    return await runAttached(argv, { cwd: slotDir(config, live), env });
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
