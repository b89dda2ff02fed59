import { existsSync, readFileSync } from 'node:fs';
import { sudoArgv } from '../../host/commands/sudo.ts';
import { probeCommand } from '../../host/run.ts';
import { currentUserName } from '../../host/file-owner.ts';
import { loadState } from '../../record/state.ts';
import { upstreamFor } from '../../traffic/upstream.ts';
import { parseMasterCommandLine, readNginxFiles, waysToRewrite } from './nginx-files.ts';
import { commandLine, readPidFile } from '../../host/process.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/**
 * The deploy user stays a deploy user (docs/security.md): it can write no file a root nginx parses
 * (nor replace one, nor a folder above one), and sudo lets it run nginx only through NGINX_HELPER,
 * never with arguments of its choosing. Anyone who can do either is root.
 */

/** Whether the upstream file already holds what this configuration renders, so a live-file deploy changes nothing nginx parses. */
export function upstreamIsCurrent(ctx: CheckContext): boolean {
  const { config } = ctx;
  if (config.switchKind !== 'nginx-live-file' || !existsSync(config.nginx.upstreamFile)) return false;
  try {
    return readFileSync(config.nginx.upstreamFile, 'utf8') === upstreamFor(config, loadState(config.deployRoot, config.appName, config.ports)).content;
  } catch {
    return false;
  }
}

function nginxBinaryOf(pidFile: string): string {
  const master = readPidFile(pidFile);
  const line = master === undefined ? undefined : commandLine(master);
  return (line && parseMasterCommandLine(line).binary) || (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
}

/** The sudo rules that hand root away: nginx with any arguments, or any command at all. Asked with `sudo -n -l CMD`, which runs nothing. */
async function sudoGrants(ctx: CheckContext): Promise<string[]> {
  const nginx = nginxBinaryOf(ctx.config.nginx.pidFile);
  const grants: string[] = [];
  const allowed = async (argv: string[]) => (await probeCommand(sudoArgv.list(argv), { env: ctx.env, timeoutMs: 10_000 })).exitCode === 0;
  if (await allowed(['/bin/sh', '-c', 'true'])) grants.push('sudo lets it run any command as root');
  else if (await allowed([nginx, '-c', '/nonexistent/switchyard-doctor-probe.conf', '-t'])) grants.push(`sudo lets it run ${nginx} with arguments of its choosing (-c FILE loads any configuration as root)`);
  return grants;
}

export async function checkNginxBoundary(ctx: CheckContext): Promise<CheckResult> {
  const uid = process.getuid?.() ?? 0;
  const user = currentUserName();
  if (uid === 0) return pass('deploys run as root: there is no deploy user to keep out of nginx (docs/security.md)');
  const found = readNginxFiles(ctx.config.nginx.pidFile);
  if (!found) return fail(`cannot find nginx's configuration (no master in ${ctx.config.nginx.pidFile}, no /etc/nginx/nginx.conf)`, 'start nginx, or set NGINX_PID_FILE to its pid file, then run doctor again');
  const ways = found.files.flatMap((file) => waysToRewrite(file, uid));
  const upstream = ctx.config.nginx.upstreamFile;
  if (!found.files.includes(upstream)) ways.push(...waysToRewrite(upstream, uid).map((way) => `${way} (NGINX_UPSTREAM_FILE)`));
  const grants = existsSync('/usr/bin/sudo') || existsSync('/bin/sudo') ? await sudoGrants(ctx) : [];
  if (ways.length > 0) {
    return fail(`${user} ${ways.slice(0, 3).join('; ')}${ways.length > 3 ? ` (and ${ways.length - 3} more)` : ''}: a root nginx parses it, so ${user} could make nginx write any file as root`, `as root, make every file nginx includes and every folder above it root's alone (chown root:root FILE; chmod go-w FOLDER); keep the upstream in a root folder, installed by switchyard-nginx-helper (docs/security.md)`);
  }
  if (grants.length > 0) return fail(`${user}: ${grants.join('; ')}`, 'replace the sudoers rule with the one in templates/nginx/sudoers (only switchyard-nginx-helper), or none at all for SWITCH=nginx-live-file (docs/security.md)');
  const unread = found.unreadable.length ? `; ${found.unreadable.length} included file(s) it cannot read were not looked into` : '';
  return pass(`${user} can change none of the ${found.files.length} files nginx parses, and sudo gives it no nginx of its own${unread}`);
}
