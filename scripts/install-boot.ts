import os from 'node:os';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import path from 'node:path';
import { applyBootEntry, type BootEntry } from '../lib/setup/boot.ts';
import { loadConfig, makeReporter, PROJECT_DIR, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { runDir } from '../lib/slot/slots.ts';

export const summary = SPECS['install-boot'].summary;
export const help = renderHelp(SPECS['install-boot'], `Makes the host run \`./deploy.ts resume\` at boot, as the deploy user, so the live slot comes back
after a reboot (the builtin supervisor is not started by anything else). Where systemd is PID 1: the
unit /etc/systemd/system/switchyard-resume-<APP_NAME>.service (enabled; needs root: run it with sudo
from the deploy user, the unit runs resume as that user). Elsewhere: an @reboot line in the deploy
user's crontab (Debian's cron package; if it is missing you are told how to install it), whose output
goes to DEPLOY_ROOT/run/resume.log. Both retry while nginx is still starting.
--remove takes the entry away. Running it again changes nothing.
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    const { flags, args: given } = parseCommandLine(SPECS['install-boot'], io.argv);
    if (given.length > 0) throw new SwitchyardError('install-boot takes no arguments', { untouched: 'nothing was installed', next: 'see ./deploy.ts install-boot --help', exitCode: 2 });
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    const remove = flags.remove === true;
    const uid = process.getuid?.() ?? -1;
    const entry: BootEntry = {
      appName: config.appName,
      deployTs: path.join(PROJECT_DIR, 'deploy.ts'),
      user: (uid === 0 && io.env.SUDO_USER) || os.userInfo().username,
      pathValue: [...new Set([path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'),
      envFile: io.env.DEPLOY_ENV_FILE ? config.envFile : undefined,
      logFile: path.join(runDir(config), 'resume.log'),
    };
    const result = await applyBootEntry(entry, remove);
    const what = result.how === 'systemd' ? 'the boot unit' : 'the @reboot line';
    if (!result.changed) reporter.success(`${what} ${remove ? 'was not there' : 'is already installed'} (${result.where}); nothing changed`);
    else reporter.success(remove ? `removed ${what} from ${result.where}` : `installed ${what} in ${result.where}: at boot, ${entry.user} runs ${entry.deployTs} resume`);
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
