import { existsSync } from 'node:fs';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { followLog, readLogTail } from '../lib/slot/log-files.ts';
import { currentDeployLog, printDeployLog } from '../lib/record/deploy-log.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { runningHolder } from '../lib/record/lock.ts';
import { slotFiles } from '../lib/slot/slots.ts';
import { watchCallerGone } from '../lib/host/caller-gone.ts';
import { loadState } from '../lib/record/state.ts';

export const command = defineCommand({
  spec: SPECS.logs,
  config: true,
  help: `Prints the last N (default 50) lines of the app's log in SLOT (a or b; default: the live slot),
across the rotated files (<log>.1, ... : LOG_MAX_SIZE, LOG_KEEP).
-f keeps printing new lines as they are written, across rotations, until Ctrl-C.

./deploy.ts logs --deploy [-f] prints the whole output of the deploy or rollback running now (else of
the last one), as kept in DEPLOY_ROOT/deploys; with -f it follows it until that command has ended,
so after a dropped SSH connection you see how it ended.
`,
  check({ flags, args }) {
    const countText = flags.count ?? '50';
    if (!/^\d+$/.test(countText)) throw new SwitchyardError(`-n must be a number; got ${JSON.stringify(countText)}`, { untouched: 'nothing was changed', exitCode: 2 });
    if (args.SLOT && args.SLOT !== 'a' && args.SLOT !== 'b') {
      throw new SwitchyardError(`SLOT must be a or b; got ${JSON.stringify(args.SLOT)}`, { untouched: 'nothing was changed', exitCode: 2 });
    }
  },
  async run({ flags, args, config, reporter }) {
    if (flags.deploy) {
      const log = currentDeployLog(config.deployRoot, runningHolder(config.deployRoot)?.pid);
      await printDeployLog(log.file, log.id, (line) => process.stdout.write(`${reporter.redact(line)}\n`), { follow: flags.follow });
      return 0;
    }
    const slot = (args.SLOT as 'a' | 'b' | undefined) ?? loadState(config.deployRoot, config.appName, config.ports).live;
    if (!slot) throw new SwitchyardError('no slot is live yet', { next: 'name a slot: ./deploy.ts logs a' });
    const { logFile } = slotFiles(config, slot);
    if (!existsSync(logFile)) throw new SwitchyardError(`slot ${slot} has no log yet (${logFile})`, { next: 'it is written once the slot has been started' });
    // An app's log holds whatever it printed, its environment's secrets included: every line is redacted.
    const print = (line: string) => process.stdout.write(`${reporter.redact(line)}\n`);
    const count = Number(flags.count ?? '50');
    if (!flags.follow) {
      for (const line of readLogTail(logFile, count)) print(line);
      return 0;
    }
    // Across the supervisor's rotations; only whole lines reach the redaction (a secret split across two reads would slip through).
    // Ends when its reader is gone (a closed SSH session without a TTY sends no signal).
    const gone = new AbortController();
    const stopWatching = watchCallerGone(() => gone.abort());
    try {
      await followLog(logFile, print, { signal: gone.signal, tail: count });
    } finally {
      stopWatching();
    }
    return 0;
  },
});
