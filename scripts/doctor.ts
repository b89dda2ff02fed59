import { readFileSync } from 'node:fs';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import path from 'node:path';
import { PROJECT_DIR } from '../lib/cli/command.ts';
import { isSwitchyardError } from '../lib/errors.ts';
import { doctorChecks, formatOutcomes, runChecks, type CheckOutcome } from '../lib/setup/doctor/index.ts';

export const command = defineCommand({
  spec: SPECS.doctor,
  // A config that does not load is a failed check here, not the command's error.
  config: 'lazy',
  json: 'document',
  help: `Checks the set-up without changing anything, one line per check (✔ or ✖, and for each ✖ the exact
fix): the configuration; REPO reachable and DEPLOY_BRANCH on it; DEPLOY_ROOT's owner and modes;
the running nginx includes the upstream file (nginx -T, through NGINX_TEST_CMD's sudo) and its
workers can reach the live-file; NGINX_TEST_CMD and NGINX_RELOAD_CMD allowed without a password;
NGINX_CHECK_URL reaches the live slot through nginx; with NGINX_TLS, the certificate nginx serves
(its names against NGINX_SERVER_NAME, 14 days left at least) and, for acme, certbot's renewal/<APP_NAME>.conf
running switchyard-tls-hook for NGINX_TLS_CERT and a certbot timer or cron job; with PROCESS_MANAGER=systemd, the slot unit
<APP_NAME>@.service installed for this DEPLOY_ROOT and sudo allowing systemctl start/stop of both
slots (sudo -n -l); the slot ports free or held by the slots' own apps; hooks safe; disk space; the
Node version. Each check is bounded in time.

Exit code 0 only when every check passes. --json prints { ok, checks: [{ title, ok, detail, fix }] }.
`,
  async run({ io, flags, loadConfig, ...frame }) {
    let { reporter } = frame;
    let outcomes: CheckOutcome[];
    try {
      const loaded = loadConfig();
      reporter = loaded.reporter;
      const { config } = loaded;
      const engines = JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')).engines?.node ?? '>=20';
      const configLine: CheckOutcome = { title: 'configuration', ok: true, detail: `${config.envFile} is valid (SWITCH=${config.switchKind}, PROCESS_MANAGER=${config.processManager})` };
      outcomes = [configLine, ...(await runChecks(doctorChecks(config), { config, env: io.env, nodeEngines: engines }))];
    } catch (error) {
      if (!isSwitchyardError(error)) throw error;
      // Nothing else can be checked without a configuration: say so, with the fix the error names.
      const fix = /^no \.env at/.test(error.message) ? error.next ?? '' : error.next ?? 'fix the named keys';
      outcomes = [{ title: 'configuration', ok: false, detail: `${error.message}; the other checks need it and were not run`, fix }];
    }
    const ok = outcomes.every((outcome) => outcome.ok);
    if (flags.json) reporter.document({ ok, checks: outcomes });
    else {
      for (const line of formatOutcomes(outcomes)) reporter.info(line);
      const failed = outcomes.filter((outcome) => !outcome.ok).length;
      if (ok) reporter.success(`doctor: all ${outcomes.length} checks passed`);
      else reporter.info(`doctor: ${failed} of ${outcomes.length} check(s) failed; apply the fixes above and run ./deploy.ts doctor again`);
    }
    return ok ? 0 : 1;
  },
});
