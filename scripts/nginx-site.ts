import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { renderSiteFile } from '../lib/setup/init-steps.ts';
import { siteInstallPaths } from '../lib/setup/init.ts';
import { unifiedDiff } from '../lib/setup/line-diff.ts';
import { siteOrigin, type SiteOrigin } from '../lib/setup/site-file.ts';

const VERDICT: Record<SiteOrigin, string> = {
  absent: 'does not exist: init --nginx would create it',
  current: 'is up to date: init --nginx would change nothing',
  stale: "is Switchyard's, unedited: init --nginx would update it as shown",
  edited: 'was edited since Switchyard wrote it: init --nginx keeps it unless --force (which keeps it as .previous)',
  foreign: 'has no Switchyard checksum line (written by hand, or by an older Switchyard and edited since): init --nginx keeps it unless --force (which keeps it as .previous)',
};

export const command = defineCommand({
  spec: SPECS['nginx-site'],
  config: true,
  help: `Prints the complete nginx site for the current configuration and SWITCH mode, every placeholder
filled in (NGINX_UPSTREAM_FILE, NGINX_LIVE_DIR, NGINX_LISTEN, HEALTH_PATH), ready for
/etc/nginx/sites-available/<APP_NAME> (or an \`include\` inside \`http {}\`). It includes the upstream
file, so write that first:

  ./deploy.ts upstream --write
  ./deploy.ts nginx-site | sudo tee /etc/nginx/sites-available/myapp
  sudo ln -s ../sites-available/myapp /etc/nginx/sites-enabled/myapp
  sudo nginx -t && sudo systemctl reload nginx

Its second line is the checksum of the rest: ./deploy.ts init --nginx replaces the installed site only
while it is unedited (an edit, such as certbot's HTTPS lines, needs --force). With --diff it prints
what init --nginx would change in the installed site instead (lines with - are in the installed file
only), and whether that file was edited.

With NGINX_TLS=acme or files (docs/https.md) the template's server body goes into an HTTPS server
(HTTP/2, the certificate read at each handshake) and a loopback-only check server (NGINX_CHECK_LISTEN),
and the NGINX_LISTEN server only answers ACME challenges from NGINX_ACME_WEBROOT and redirects.

Changes nothing. The templates it comes from are templates/nginx/site.conf (nginx-live-file) and
templates/nginx/site-reload.conf (nginx-reload; also fine for passive).
`,
  async run({ flags, config, reporter }) {
    if (config.switchKind === 'none' || config.switchKind === 'command') {
      throw new SwitchyardError(`SWITCH=${config.switchKind}: ${config.switchKind === 'none' ? 'Switchyard does not manage traffic' : 'SWITCH_CMD moves traffic (templates/haproxy/ has an HAProxy example)'}, so it has no nginx site to print`, {
        untouched: 'nothing was changed',
        next: 'set SWITCH=nginx-live-file (the default) to get a site',
      });
    }
    const site = renderSiteFile(config);
    if (!flags.diff) {
      process.stdout.write(site);
      return 0;
    }
    const nginxDir = flags['nginx-dir'] ?? '/etc/nginx';
    const target = siteInstallPaths(nginxDir, config.appName, existsSync(path.join(nginxDir, 'sites-available')) && existsSync(path.join(nginxDir, 'sites-enabled')));
    const installed = existsSync(target.file) ? readFileSync(target.file, 'utf8') : undefined;
    process.stdout.write(unifiedDiff(installed ?? '', site, { before: installed === undefined ? '/dev/null' : target.file, after: `${target.file} (as init --nginx would write it)` }));
    reporter.info(`${target.file} ${VERDICT[siteOrigin(installed, site)]}`);
    return 0;
  },
});
