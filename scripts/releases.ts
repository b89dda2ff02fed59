import { existsSync } from 'node:fs';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { shortCommit } from '../lib/record/state-shape.ts';
import { folderSize, releaseDir } from '../lib/release/release-files.ts';
import { outcomesOf, previousGoodCommit } from '../lib/release/releases.ts';
import { SLOTS } from '../lib/slot/slots.ts';
import { loadState } from '../lib/record/state.ts';

export const command = defineCommand({
  spec: SPECS.releases,
  config: true,
  json: 'document',
  help: `The releases kept under DEPLOY_ROOT/releases (KEEP_RELEASES, default 5, plus the live one, the one the
other slot holds and the last good one): commit, when it was built, its size on disk, what happened
to it (deploys, rollbacks and their outcomes), which one is live, which slot holds which, and which
one a plain \`rollback\` would go to, and when RELEASE_CMD ran for it (once per commit). --json
prints the same as a JSON array.
`,
  async run({ flags, config, reporter }) {
    const state = loadState(config.deployRoot, config.appName, config.ports);
    // A release folder deleted by hand is no rollback target (rollback checks the same).
    const available = (commit: string) => Boolean(state.releases?.[commit]?.complete) && existsSync(releaseDir(config, commit));
    const rollbackTarget = previousGoodCommit(state, available);
    const releases = Object.values(state.releases ?? {})
      .sort((x, y) => Date.parse(y.builtAt) - Date.parse(x.builtAt))
      .map((release) => {
        const dir = releaseDir(config, release.commit);
        const slots = SLOTS.filter((slot) => state.slots[slot].commit === release.commit);
        return {
          commit: release.commit,
          builtAt: release.builtAt,
          complete: release.complete,
          missing: !existsSync(dir),
          sizeBytes: existsSync(dir) ? folderSize(dir) : 0,
          live: state.live !== null && state.slots[state.live].commit === release.commit,
          slots,
          rollbackTarget: release.commit === rollbackTarget,
          outcomes: outcomesOf(state.history, release.commit),
          releaseCmdAt: state.releaseCmdRuns?.[release.commit]?.at ?? null,
        };
      });
    if (flags.json === true) {
      process.stdout.write(`${JSON.stringify(releases, null, 2)}\n`);
      return 0;
    }
    if (releases.length === 0) reporter.info('no releases kept yet (deploy builds the first one)');
    for (const release of releases) {
      const role = release.missing ? 'MISSING folder' : release.live ? 'live' : release.rollbackTarget ? 'rollback target' : release.complete ? 'kept' : 'incomplete';
      const slots = release.slots.length ? `slot ${release.slots.join(', ')}` : '-';
      const ran = release.releaseCmdAt ? `; RELEASE_CMD ran ${release.releaseCmdAt}` : '';
      const outcomes = `${release.outcomes.length ? release.outcomes.slice(-4).join(', ') : 'never deployed'}${ran}`;
      reporter.info(`${shortCommit(release.commit)}  built ${release.builtAt}  ${(release.sizeBytes / 1e6).toFixed(1).padStart(7)} MB  ${role.padEnd(15)} ${slots.padEnd(7)} ${outcomes}`);
    }
    return 0;
  },
});
