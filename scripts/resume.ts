import { describeEndpoints, slotEndpoints } from '../lib/slot/endpoints.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { loadAppEnvironment } from '../lib/host/app-env-file.ts';
import { interruptionSignal } from '../lib/cli/command.ts';
import { currentUser } from '../lib/record/lock.ts';
import { createSlotProcesses } from '../lib/slot/process-manager.ts';
import { resumeLive } from '../lib/cycle/resume.ts';
import { shortCommit } from '../lib/record/state-shape.ts';

export const command = defineCommand({
  spec: SPECS.resume,
  config: true,
  help: `After a reboot (or anything that killed the slots): starts the live slot the state records, from
its own folder (the same release), with the app's environment (APP_ENV_FILE as it is now), if it is
not running; waits until HEALTH_PATH answers 2xx; then confirms the switch points at it (SWITCH,
checked through nginx). Nothing else changes: no fetch, no build, no hook, the idle slot is left as
it is. Takes the deploy lock. With nothing live yet it says so and exits 0.
\`./deploy.ts install-boot\` makes the host run it at boot.
`,
  async run({ io, config, reporter }) {
    const signal = interruptionSignal(reporter);
    const processes = createSlotProcesses(config, loadAppEnvironment(config, io.env));
    const outcome = await resumeLive({ config, reporter, processes, user: currentUser(io.env), signal });
    if (!outcome.slot) {
      reporter.success('nothing to resume: no slot is live yet');
      return 0;
    }
    const how = outcome.started ? `started again (pid ${outcome.pid})` : `was already running (pid ${outcome.pid})`;
    reporter.success(`resumed: slot ${outcome.slot} (${shortCommit(outcome.commit)}) on ${describeEndpoints(slotEndpoints(config, outcome.slot))} ${how}, healthy, and traffic goes to it`);
    return 0;
  },
});
