import os from 'node:os';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import path from 'node:path';
import { applyBootEntry, type BootEntry } from '../lib/setup/boot.ts';
import { PROJECT_DIR } from '../lib/cli/command.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { runDir } from '../lib/slot/slots.ts';
import { describeOwnership } from '../lib/host/file-owner.ts';

export const command = defineCommand({
  spec: SPECS['install-boot'],
  config: true,
  untouched: 'nothing was installed',
  help: `Makes the host run \`./deploy.ts resume\` at boot, as the deploy user, so the live slot comes back
after a reboot (nothing else starts it: the builtin supervisor is not a service, and the systemd slot
units have no [Install] section, since Switchyard, not boot order, picks the live slot).
Where systemd is PID 1: the unit /etc/systemd/system/switchyard-resume-<APP_NAME>.service (enabled).
Writing it needs root, once: run it as root or from an account with full sudo (sudo ./deploy.ts
install-boot). The deploy user's own sudoers rules allow only the nginx and systemctl commands a
deploy runs, not this. The unit runs resume as the owner of DEPLOY_ROOT (the deploy user).
Elsewhere: an @reboot line in the deploy user's crontab, which the deploy user installs itself
(Debian's cron package; if it is missing you are told how to install it), whose output goes to
DEPLOY_ROOT/run/resume.log. Both retry while nginx is still starting.
--remove takes the entry away. Running it again changes nothing.
`,
  async run({ io, flags, config, reporter }) {
    const remove = flags.remove;
    const uid = process.getuid?.() ?? -1;
    const entry: BootEntry = {
      appName: config.appName,
      deployTs: path.join(PROJECT_DIR, 'deploy.ts'),
      user: uid === 0 ? deployRootOwner(config.deployRoot) : os.userInfo().username,
      pathValue: [...new Set([path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'),
      envFile: io.env.DEPLOY_ENV_FILE ? config.envFile : undefined,
      logFile: path.join(runDir(config), 'resume.log'),
    };
    const result = await applyBootEntry(entry, remove, { env: io.env });
    const what = result.how === 'systemd' ? 'the boot unit' : 'the @reboot line';
    if (!result.changed) reporter.success(`${what} ${remove ? 'was not there' : 'is already installed'} (${result.where}); nothing changed`);
    else reporter.success(remove ? `removed ${what} from ${result.where}` : `installed ${what} in ${result.where}: at boot, ${entry.user} runs ${entry.deployTs} resume`);
    return 0;
  },
});

/** As root, resume runs as the deploy user: the owner of DEPLOY_ROOT (whoever ran sudo may be an admin, not the deploy user). */
function deployRootOwner(deployRoot: string): string {
  const owner = describeOwnership(deployRoot);
  if (!owner) {
    throw new SwitchyardError(`DEPLOY_ROOT ${deployRoot} does not exist, so there is no deploy user to run resume as`, {
      untouched: 'nothing was installed',
      next: 'as the deploy user, run ./deploy.ts init (or a first deploy), then install-boot again as root',
    });
  }
  return owner.owner;
}
