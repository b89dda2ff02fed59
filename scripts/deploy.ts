import { cycleContext } from '../lib/cli/command.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { printPlan } from './dry-run.ts';
import { deploy } from '../lib/cycle/cycle.ts';
import { parseShare } from '../lib/canary/share.ts';

export const command = defineCommand({
  spec: SPECS.deploy,
  config: true,
  help: `Builds COMMIT (a SHA, tag or branch; default: the newest commit of DEPLOY_BRANCH) as a release in
DEPLOY_ROOT/releases/<commit>, starts it on the idle slot, waits until HEALTH_PATH answers 2xx,
moves traffic to it, waits until nginx has no request in flight to the old slot, then sends it
SIGTERM (SIGKILL after STOP_TIMEOUT). Any failure before the switch leaves the live slot and traffic
untouched, and every kept release stays a rollback target.

A commit that is already a kept, complete release is started as it is: no checkout, install or
build (--rebuild builds it again). A new release whose lockfile, INSTALL_CMD and Node version match
a kept release's gets a copy of that release's node_modules (copy-on-write where the
filesystem can) instead of running INSTALL_CMD; the copy is checked against the packages npm
recorded for it, and INSTALL_CMD runs when any is missing. Before BUILD_CMD, the folders in
BUILD_CACHE_PATHS (default .next/cache node_modules/.cache) are copied from the release the idle
slot last ran, else the newest kept release; a warm build that fails runs once more without them.
--rebuild builds a kept commit again, and never uses the install or build cache; --cold builds
without the build cache.

RELEASE_CMD (migrations), when set, runs after the build and before the new slot takes any traffic,
in the new release with the app's environment; a failure stops the deploy with nothing switched and
shows its last lines. It runs once per commit: a redeploy of a commit it ran for (kept or rebuilt)
skips it; --release-cmd runs it again; --no-release-cmd skips it (a fleet runs it on one host).

--dry-run prints the plan (slot, port, commit, commands, caches, switch, hooks), the same steps the run
would take, and changes nothing: no lock, no fetch, no state write (a branch or tag is looked up in
REPO with git ls-remote, a SHA prefix in the local mirror as of the last deploy).
--json prints one JSON event per line (step with its duration in ms, output, warning, error,
success; with --dry-run one plan event per step, named as the run's step events) instead of text lines.

--canary N% (or CANARY=N%): after the health check, only N% of users reach the new slot (a cookie
set by nginx, else a hash of address and User-Agent), the rest stay on the live slot; no reload.
deploy then returns (exit 0: the canary runs) and a detached watcher judges nginx's figures of both
slots every CANARY_INTERVAL, moves through CANARY_STEPS and promotes (the switch, then BAKE_TIME),
or rolls back by itself; ./deploy.ts status shows it, promote and rollback end it now. A deploy
during a canary is refused. --no-canary switches everyone at once. See docs/canary.md.

Exit code 0 only on success; 75 when another deploy or rollback holds the lock.
`,
  async run({ io, flags, args, config, reporter }) {
    if (flags['release-cmd'] && flags['no-release-cmd']) {
      throw new SwitchyardError('--release-cmd and --no-release-cmd contradict each other', { untouched: 'nothing was changed', next: 'give one of them', exitCode: 2 });
    }
    const releaseCmd = flags['release-cmd'] ? 'force' : flags['no-release-cmd'] ? 'skip' : undefined;
    const options = { rebuild: flags.rebuild, cold: flags.cold, releaseCmd, canary: canaryOption(flags.canary, flags['no-canary']) } as const;
    if (options.canary && config.switchKind !== 'nginx-live-file') {
      throw new SwitchyardError(`--canary needs SWITCH=nginx-live-file (its site sends the canary's buckets to the new slot); this host has SWITCH=${config.switchKind}`, { untouched: 'nothing was changed', exitCode: 2 });
    }
    if (flags['dry-run']) return await printPlan(config, reporter, 'deploy', args.COMMIT, options);
    await deploy(cycleContext(io, config, reporter), args.COMMIT, options);
    return 0;
  },
});

/** --canary N% or --no-canary; undefined: CANARY decides. */
function canaryOption(given: string | undefined, off: boolean): number | undefined {
  if (off && given !== undefined) throw new SwitchyardError('--canary and --no-canary contradict each other', { untouched: 'nothing was changed', exitCode: 2 });
  if (off) return 0;
  if (given === undefined) return undefined;
  const share = parseShare(given);
  if (share === undefined || share >= 100) {
    throw new SwitchyardError(`--canary takes a share below 100% such as 5%; got ${JSON.stringify(given)}`, { untouched: 'nothing was changed', next: 'see ./deploy.ts deploy --help', exitCode: 2 });
  }
  return share;
}
