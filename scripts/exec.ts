import { loadAppEnvironment } from '../lib/host/app-env-file.ts';
import { slotEnvironment } from '../lib/slot/endpoints.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { slotEndpoints } from '../lib/slot/endpoints.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { runAttached } from '../lib/host/run.ts';
import { slotDir } from '../lib/slot/slots.ts';
import { loadState } from '../lib/record/state.ts';

export const command = defineCommand({
  spec: SPECS.exec,
  config: true,
  untouched: 'nothing was run',
  help: `Runs <command> in the live slot's folder (the release it runs) with exactly the app's environment:
APP_ENV_FILE, PATH, HOME, LANG, LC_*, and the live slot's PORT, HOST and SWITCHYARD_SLOT (a command
that listens must pick another port). For migrations, a console, a one-off script. The command is run
as given, an argv, never through a shell (write \`exec -- sh -c '...'\` for one); its terminal is
ours (stdin, output), and its exit code is ours. Takes no lock. Refuses when no slot is live.
`,
  async run({ io, args, config }) {
    const state = loadState(config.deployRoot, config.appName, config.ports);
    const live = state.live;
    if (!live) throw new SwitchyardError('nothing is live, so there is no release to run the command in', { untouched: 'nothing was run', next: 'deploy first: ./deploy.ts deploy' });
    const env = slotEnvironment(loadAppEnvironment(config, io.env), {
      endpoint: slotEndpoints(config, live)[0],
      host: config.host,
      slot: live,
    });
    return await runAttached(args.command, { cwd: slotDir(config, live), env });
  },
});
