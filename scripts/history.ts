import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { shortCommit } from '../lib/record/state-shape.ts';
import { formatDuration } from '../lib/config/duration.ts';
import { printDeployLog, resolveDeployLog } from '../lib/record/deploy-log.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { loadState, readHistory } from '../lib/record/state.ts';

export const command = defineCommand({
  spec: SPECS.history,
  config: true,
  json: 'document',
  help: `The last N (default 10) deploys and rollbacks, newest last: time, user, command, slot, commit,
outcome, duration, and the reason of a failure. --json prints them as a JSON array. The newest
200 are kept in DEPLOY_ROOT/state.json, older ones in DEPLOY_ROOT/history.log (one JSON object a
line); both are read. Each line ends with its log id in [brackets].

--show ID|last prints the whole output of one deploy or rollback (or of the newest one, even while it
runs), kept in DEPLOY_ROOT/deploys (the newest 50), whatever happened to the terminal that started it.
`,
  check({ flags }) {
    const countText = flags.count ?? '10';
    if (!/^\d+$/.test(countText) || Number(countText) < 1) throw new SwitchyardError(`-n must be a positive number; got ${JSON.stringify(countText)}`, { untouched: 'nothing was changed', exitCode: 2 });
  },
  async run({ flags, config, reporter }) {
    const show = flags.show;
    if (show !== undefined) {
      const log = resolveDeployLog(config.deployRoot, show);
      await printDeployLog(log.file, log.id, (line) => process.stdout.write(`${reporter.redact(line)}\n`), { follow: false });
      return 0;
    }
    const entries = readHistory(config.deployRoot, loadState(config.deployRoot, config.appName, config.ports), Number(flags.count ?? '10'));
    if (flags.json === true) {
      reporter.document(entries);
      return 0;
    }
    if (entries.length === 0) reporter.info('no deploys yet');
    for (const entry of entries) {
      const reason = entry.reason ? `: ${entry.reason}` : '';
      const log = entry.log ? `  [${entry.log}]` : '';
      reporter.info(`${entry.at}  ${entry.user.padEnd(10)} ${entry.command.padEnd(8)} slot ${entry.slot} ${shortCommit(entry.commit).padEnd(8)} ${entry.outcome.padEnd(11)} ${formatDuration(entry.durationMs)}${log}${reason}`);
    }
    return 0;
  },
});
