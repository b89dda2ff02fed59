import path from 'node:path';
import type { Config } from '../config/config.ts';
import { templateFile } from '../project-dir.ts';
import { slotEndpoints } from '../slot/endpoints.ts';
import { helperInstallArgv } from './nginx-helper.ts';

/** Where root installs the helper (templates/nginx/sudoers names the same path). */
export const HELPER_PATH = '/usr/local/sbin/switchyard-nginx-helper';

/**
 * The root commands that install the helper, its folder, and this configuration's upstream through
 * it (`write`: tested, not reloaded; the site's install reloads). Pure.
 */
export function helperSetupCommand(config: Config): string {
  const layout = { kind: 'per-slot' as const, appName: config.appName, host: config.host, slots: { a: slotEndpoints(config, 'a'), b: slotEndpoints(config, 'b') } };
  const argv = helperInstallArgv([HELPER_PATH], layout, 'write');
  return [
    `sudo install -m 755 -o root -g root ${templateFile('nginx', 'switchyard-nginx-helper')} ${HELPER_PATH}`,
    `sudo install -d -m 755 -o root -g root ${path.dirname(config.nginx.upstreamFile)}`,
    `sudo ${argv.join(' ')}`,
    `(the helper writes ${path.dirname(config.nginx.upstreamFile)}/${config.appName}.conf: edit UPSTREAM_DIR in it if NGINX_UPSTREAM_FILE is elsewhere${socketDirsHint(config)})`,
  ].join(' && ').replace(/ && \(/, ' (');
}

/** The helper takes unix: addresses only in its SOCKET_DIRS (by default a sockets folder under /srv): say so when the slots are elsewhere. Pure. */
function socketDirsHint(config: Config): string {
  if (config.slotListen !== 'socket' || /^\/srv\/[^/]+\/sockets$/.test(config.socketDir)) return '';
  return `, and SOCKET_DIRS to ${config.socketDir}, where the slots' sockets are`;
}
