import { readFileSync } from 'node:fs';
import { parseCommandLine, renderHelp } from '../lib/cli/options.ts';
import { SPECS } from './specs.ts';
import { loadConfig, makeReporter, reportFailure, type CommandIo } from '../lib/cli/command.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { renderSite, siteTemplate, siteValues } from '../lib/traffic/nginx-site.ts';

export const summary = SPECS['nginx-site'].summary;
export const help = renderHelp(SPECS['nginx-site'], `Prints the complete nginx site for the current configuration and SWITCH mode, every placeholder
filled in (NGINX_UPSTREAM_FILE, NGINX_LIVE_DIR, NGINX_LISTEN, HEALTH_PATH), ready for
/etc/nginx/sites-available/<APP_NAME> (or an \`include\` inside \`http {}\`). It includes the upstream
file, so write that first:

  ./deploy.ts upstream --write
  ./deploy.ts nginx-site | sudo tee /etc/nginx/sites-available/myapp
  sudo ln -s ../sites-available/myapp /etc/nginx/sites-enabled/myapp
  sudo nginx -t && sudo systemctl reload nginx

Changes nothing. The templates it comes from are templates/nginx/site.conf (nginx-live-file) and
templates/nginx/site-reload.conf (nginx-reload; also fine for passive).
`);

export async function run(io: CommandIo): Promise<number> {
  let reporter = makeReporter(io);
  try {
    parseCommandLine(SPECS['nginx-site'], io.argv);
    const config = loadConfig(io, reporter);
    reporter = makeReporter(io, config);
    if (config.switchKind === 'none' || config.switchKind === 'command') {
      throw new SwitchyardError(`SWITCH=${config.switchKind}: ${config.switchKind === 'none' ? 'Switchyard does not manage traffic' : 'SWITCH_CMD moves traffic (templates/haproxy/ has an HAProxy example)'}, so it has no nginx site to print`, {
        untouched: 'nothing was changed',
        next: 'set SWITCH=nginx-live-file (the default) to get a site',
      });
    }
    const site = renderSite(readFileSync(siteTemplate(config.switchKind), 'utf8'), siteValues(config));
    process.stdout.write(`# ${config.appName}: SWITCH=${config.switchKind}, printed by ./deploy.ts nginx-site from ${config.envFile}\n${site}`);
    return 0;
  } catch (error) {
    return reportFailure(error, reporter, io.argv);
  }
}
