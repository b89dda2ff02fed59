import type { Config } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { isAlive, readPidFile } from '../host/process.ts';

/** A switch that failed because nginx itself is not running: nothing serves the site, whatever slot is live. */
export class NginxNotRunningError extends SwitchyardError {}

/** When nginx is not running (no live process in NGINX_PID_FILE), the error that says so and how to start it; else undefined. */
export function nginxNotRunning(config: Config, untouched: string): NginxNotRunningError | undefined {
  const pid = readPidFile(config.nginx.pidFile);
  if (pid !== undefined && isAlive(pid)) return undefined;
  return new NginxNotRunningError(`nginx is not running (${pid === undefined ? `no pid in ${config.nginx.pidFile}` : `pid ${pid} from ${config.nginx.pidFile} has exited`}), so nothing serves the site`, {
    untouched,
    next: 'start nginx (systemctl start nginx; without systemd: sudo /usr/sbin/nginx), check it with ./deploy.ts doctor, then deploy again',
  });
}
