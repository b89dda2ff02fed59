import { parseAssignments, validateEnvKey } from '../lib/config/app-env.ts';
import { editAppEnvFile, ensureAppEnvFile, readAppEnvFile } from '../lib/host/app-env-file.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { SwitchyardError } from '../lib/errors.ts';

export const command = defineCommand({
  spec: SPECS.env,
  config: true,
  help: `./deploy.ts env                      list the keys of APP_ENV_FILE (values are never printed)
./deploy.ts env set KEY=VALUE ...    set variables (one atomic write, mode 0600)
./deploy.ts env unset KEY ...        remove variables

APP_ENV_FILE (default DEPLOY_ROOT/shared/app.env, dotenv syntax) is the app's whole environment,
with PATH, HOME, LANG and LC_* of whoever deploys and Switchyard's PORT, HOST and SWITCHYARD_SLOT;
INSTALL_CMD, BUILD_CMD, hooks and \`exec\` get it too. A change applies at the next deploy, rollback
or restart: running slots keep the environment they started with (a crash restart too).
KEY must be letters, digits and _ (not starting with a digit); PORT, HOST and SWITCHYARD_SLOT are
Switchyard's. \`env set\` rewrites the file: comments in it are not kept.
`,
  async run({ args: given, config, reporter }) {
    const [action, ...args] = given.words;
    if (action === undefined) {
      ensureAppEnvFile(config);
      const keys = Object.keys(readAppEnvFile(config));
      for (const key of keys) process.stdout.write(`${key}=[REDACTED]\n`);
      reporter.info(`${keys.length} variable(s) in ${config.appEnvFile}`);
      return 0;
    }
    if (action === 'set') {
      if (args.length === 0) throw new SwitchyardError('env set needs KEY=VALUE arguments', { untouched: 'APP_ENV_FILE was not changed', next: 'e.g. ./deploy.ts env set NODE_ENV=production', exitCode: 2 });
      const changed = editAppEnvFile(config, { set: parseAssignments(args) });
      reporter.success(done(changed, 'set', config.appEnvFile));
      return 0;
    }
    if (action === 'unset') {
      const problems = args.map((key) => validateEnvKey(key)).filter((problem): problem is string => problem !== undefined);
      if (args.length === 0 || problems.length > 0) throw new SwitchyardError(`env unset needs variable names${problems.length ? `: ${problems.join('; ')}` : ''}`, { untouched: 'APP_ENV_FILE was not changed', next: 'e.g. ./deploy.ts env unset DEBUG', exitCode: 2 });
      const changed = editAppEnvFile(config, { unset: args });
      reporter.success(done(changed, 'removed', config.appEnvFile));
      return 0;
    }
    throw new SwitchyardError(`unknown env action ${JSON.stringify(action)}`, { untouched: 'nothing was changed', next: 'use ./deploy.ts env, env set KEY=VALUE or env unset KEY', exitCode: 2 });
  },
});

function done(changed: string[], verb: string, file: string): string {
  if (changed.length === 0) return `nothing changed in ${file}`;
  return `${verb} ${changed.join(', ')} in ${file}; it applies at the next deploy, rollback or restart`;
}
