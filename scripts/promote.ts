import { cycleContext } from '../lib/cli/command.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { promoteRunningCanary } from '../lib/canary/commands.ts';
import { SPECS } from './specs.ts';

export const command = defineCommand({
  spec: SPECS.promote,
  config: true,
  help: `During a canary (deploy with CANARY or --canary): skips the remaining steps and moves every user to
the canary slot now, by the ordinary switch (confirmed through nginx, no reload), then keeps the
previous slot warm for BAKE_TIME (or drains and stops it with BAKE_TIME=0). The deploy is recorded
as a success. Refuses, changing nothing, when no canary runs or the canary slot does not answer.

Exit code 0 on success; 75 when another command holds the lock.
`,
  async run({ io, config, reporter }) {
    reporter.success(await promoteRunningCanary(cycleContext(io, config, reporter)));
    return 0;
  },
});
