import { cycleContext } from '../lib/cli/command.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { restart } from '../lib/cycle/cycle.ts';

export const command = defineCommand({
  spec: SPECS.restart,
  config: true,
  help: `Starts the live release again on the idle slot (no fetch, no install, no build), waits until it is
healthy, moves traffic to it and drains the slot that served it: a restart with zero downtime, for
a changed app environment or an app that leaks. Refuses, changing nothing, when nothing is live.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`,
  async run({ io, config, reporter }) {
    await restart(cycleContext(io, config, reporter));
    return 0;
  },
});
