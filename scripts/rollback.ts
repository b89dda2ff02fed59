import { cycleContext } from '../lib/cli/command.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { rollback } from '../lib/cycle/cycle.ts';
import { printPlan } from './dry-run.ts';

export const command = defineCommand({
  spec: SPECS.rollback,
  config: true,
  help: `Starts a kept release on the idle slot (no fetch, no install, no build), waits until it is healthy,
moves traffic to it and drains the current slot.

Without COMMIT it goes to the previous GOOD release: the newest one that was live before the live
one, skipping releases that were rolled back from and releases no longer kept. COMMIT (a unique
prefix of a kept release's SHA, or a tag or branch the local mirror resolves to one) goes to any
kept release; \`./deploy.ts releases\` lists them. Refuses, changing nothing, when there is none.
A rollback never runs RELEASE_CMD: the database stays as the newer release's migrations left it,
so those migrations must keep the older code working (expand/contract: docs/releases.md).

During a canary (deploy --canary) a plain rollback ends it instead: every user back on the live slot
at once (the canary files removed), then the canary slot drained and stopped; the deploy is recorded
as failed. rollback COMMIT is refused then.

--dry-run prints the plan (which release, which slot, each step) and changes nothing: no lock, no
state write.
--json prints one JSON event per line (step with its duration in ms, output, warning, error,
success; plan with --dry-run) instead of text lines.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`,
  async run({ io, flags, args, config, reporter }) {
    if (flags['dry-run']) return await printPlan(config, reporter, 'rollback', args.COMMIT);
    await rollback(cycleContext(io, config, reporter), args.COMMIT);
    return 0;
  },
});
