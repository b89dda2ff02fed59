import { existsSync } from 'node:fs';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { appFiles, stopApp } from '../lib/slot/app-process.ts';
import { formatDuration } from '../lib/config/duration.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { createSlotProcesses, slotInstances } from '../lib/slot/process-manager.ts';
import { runDir, SLOTS, slotProcessName } from '../lib/slot/slots.ts';
import { loadState, readStateFile, statePath } from '../lib/record/state.ts';
import { runningHolder } from '../lib/record/lock.ts';
import type { Config, SlotName } from '../lib/config/config.ts';

export const command = defineCommand({
  spec: SPECS.stop,
  config: ['DEPLOY_ROOT'],
  untouched: 'nothing was stopped',
  help: `Sends SIGTERM to the app started by \`start\` (and everything it started), waits up to STOP_TIMEOUT
for it to drain, then sends SIGKILL, and says which happened. An app that is not running: says so,
exit 0. Stopping the live slot's app (e.g. myapp-a while slot a is live) would take the site down
and is refused unless --force. While a deploy or rollback runs, stopping either slot is refused,
even with --force: its target would be a stopped app when traffic moves there, and the old slot it
drains still runs requests that a stop would cut. Interrupt that deploy instead. With INSTANCES > 1 a
slot's name (myapp-a) stops all its processes, and myapp-a.2 only its second one.
`,
  async run({ flags, args, config, reporter }) {
    const name = args.APP_NAME;
    const files = appFiles(runDir(config), name);
    // A slot's name (myapp-a) stops all its processes; an instance's (myapp-a.2, INSTANCES > 1) that one.
    const slot = config.appName
      ? SLOTS.find((candidate) =>
          slotInstances(config, candidate, { withLeftovers: true }).some((instance) => instance.name === name),
        )
      : undefined;
    if (slot) refuseSlotInUse(config, slot, name);
    if (config.appName && existsSync(statePath(config.deployRoot)) && !flags.force) {
      const state = loadState(config.deployRoot, config.appName, config.ports);
      if (state.live && state.live === slot) {
        throw new SwitchyardError(`${name} is ${slotProcessName(config, state.live) === name ? "the live slot" : "a process of the live slot"} (${state.live}); stopping it would take the site down`, {
          untouched: 'it was left running',
          next: 'deploy or roll back to the other slot first, or add --force if you mean it',
        });
      }
    }
    const step = reporter.step('stop');
    const onWait = () => step.progress(`${name} is still draining`);
    // A slot's app is stopped the way it was started (PROCESS_MANAGER); any other name is a `start`ed app.
    const wholeSlot = slot !== undefined && slotProcessName(config, slot) === name;
    const outcome = wholeSlot
      ? await createSlotProcesses(config, {}).stop(slot, onWait)
      : await stopApp(files, config.stopTimeoutMs, onWait);
    if (outcome.result === 'not-running') {
      step.done(`${name} is not running; nothing to stop`);
    } else if (outcome.result === 'exited') {
      step.done(`${name} exited after SIGTERM`);
    } else {
      step.done(`${name} ignored SIGTERM for ${formatDuration(config.stopTimeoutMs)} (STOP_TIMEOUT) and was killed with SIGKILL`);
    }
    return 0;
  },
});

/** A running deploy or rollback (a live lock holder) is using this slot: stopping it would switch traffic to a dead app. */
function refuseSlotInUse(config: Config, slot: SlotName, name: string): void {
  const holder = runningHolder(config.deployRoot);
  if (!holder) return;
  const read = readStateFile(config.deployRoot, config.ports);
  const journal = read.kind === 'valid' ? read.state.journal : null;
  // Either slot: the one its journal names is its target, and the other is the old slot it drains
  // (stopped now, the requests still running there would be cut); before the journal names one, it may pick either.
  const ownJournal = journal && journal.pid === holder.pid ? journal : null;
  const role = ownJournal ? (ownJournal.slot === slot ? 'its target' : 'the slot it switches away from and drains') : 'it may pick either slot';
  const phase = ownJournal ? `, in its "${ownJournal.phase}" phase` : '';
  throw new SwitchyardError(`${name} is slot ${slot}, which the running ${holder.command} (pid ${holder.pid}, user ${holder.user}, started ${holder.startedAt}${phase}) is using (${role})`, {
    untouched: 'it was left running',
    next: `wait for the ${holder.command} to finish (or interrupt it: kill -INT ${holder.pid}), then run this again; --force does not override this`,
  });
}
