import { describeEndpoints, isUpstreamAddress, slotEndpoints } from '../../slot/endpoints.ts';
import { sudoArgv } from '../../host/commands/sudo.ts';
import { existsSync } from 'node:fs';
import { probe } from '../../slot/health.ts';
import { sudoersLine } from '../init.ts';
import { probeCommand, probeShell } from '../../host/run.ts';
import { loadState } from '../../record/state.ts';
import { liveFile } from '../../traffic/nginx-live-file.ts';
import { dirsOnTheWay, firstBlockedDir } from '../../traffic/nginx-access.ts';
import { nginxWorkerIdentity, userName } from '../../host/workers.ts';
import { currentUserName } from '../../host/file-owner.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';
import { upstreamIsCurrent } from './nginx-boundary.ts';
import { readNginxFiles } from './nginx-files.ts';
import { conflictingClaims } from './sites.ts';

/** NGINX_TEST_CMD with its `-t` turned into `-T` (test and print the whole configuration), same sudo prefix; undefined when it has no `-t`. Pure. */
export function dumpCommand(testCmd: string): string | undefined {
  const words = testCmd.trim().split(/\s+/);
  const at = words.indexOf('-t');
  if (at < 0) return undefined;
  words[at] = '-T';
  return words.join(' ');
}

/** Whether the dumped configuration includes the upstream file (and, for the live-file mode, looks at the live-files). Pure. */
export function judgeNginxConfig(dump: string, upstreamFile: string, liveDir: string | undefined): CheckResult {
  if (!dump.includes(`# configuration file ${upstreamFile}:`)) {
    return fail(`the running configuration does not include ${upstreamFile}`, 'install the site ./deploy.ts nginx-site prints (./deploy.ts init --nginx does it), then test and reload nginx');
  }
  if (liveDir && !dump.includes(`${liveDir}/live-a`)) {
    return fail(`nginx includes ${upstreamFile} but its site does not look at ${liveDir}/live-a (it is not the nginx-live-file site)`, 'replace the site with the one ./deploy.ts nginx-site prints, then test and reload nginx');
  }
  const conflicts = conflictingClaims(dump, `include ${upstreamFile};`);
  if (conflicts.length > 0) {
    return fail(`another site claims this app's server_name and port: ${conflicts.join('; ')} (nginx serves that name from the first site it reads)`, 'give each app its own NGINX_SERVER_NAME (or NGINX_LISTEN), print the site again with ./deploy.ts nginx-site and install it, or remove the other site; then test and reload nginx');
  }
  return pass(`nginx includes ${upstreamFile}${liveDir ? ` and follows ${liveDir}/live-{a,b}` : ''}`);
}

export async function checkNginxConfig(ctx: CheckContext): Promise<CheckResult> {
  const { nginx, switchKind } = ctx.config;
  const command = dumpCommand(nginx.testCmd);
  if (!command) return fail(`cannot read nginx's configuration: NGINX_TEST_CMD (${nginx.testCmd}) has no -t to turn into -T`, 'set NGINX_TEST_CMD to `sudo -n nginx -t` (or your nginx with -t)');
  const result = await probeShell(command, { env: ctx.env, timeoutMs: 15_000 });
  if (result.timedOut) return fail(`\`${command}\` did not finish within 15s`, 'check nginx by hand: sudo nginx -t');
  if (result.exitCode !== 0) {
    const last = result.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit code ${result.exitCode}`;
    if (/sudo: a password is required|not allowed|may not run sudo/.test(result.stderr)) {
      // No sudo needed (the live-file mode): read the files nginx parses directly.
      const own = readNginxFiles(nginx.pidFile);
      if (own && upstreamIsCurrent(ctx)) return judgeNginxConfig(own.dump, nginx.upstreamFile, switchKind === 'nginx-live-file' ? nginx.liveDir : undefined);
      const line = sudoersLine(currentUserName(), nginx.testCmd, nginx.reloadCmd, absoluteProgram);
      return fail(`\`${command}\` was refused by sudo: ${last}`, `allow it without a password in /etc/sudoers.d/switchyard: ${line ?? '(see templates/nginx/sudoers)'}`);
    }
    if (/sudo: not found|sudo: command not found/.test(result.stderr)) return fail('sudo is not installed, and NGINX_TEST_CMD starts with sudo', 'apt-get install -y sudo, then add the sudoers line ./deploy.ts init prints');
    return fail(`\`${command}\` failed: ${last}`, 'fix the nginx configuration it names, then run doctor again');
  }
  return judgeNginxConfig(result.stdout, nginx.upstreamFile, switchKind === 'nginx-live-file' ? nginx.liveDir : undefined);
}

/** nginx's workers (another user when the master is root) can reach the live-files. */
export function checkWorkersReach(ctx: CheckContext): CheckResult {
  const { nginx } = ctx.config;
  const who = nginxWorkerIdentity(nginx.pidFile);
  if (!who) {
    const why = existsSync(nginx.pidFile) ? `no nginx worker runs under the master in ${nginx.pidFile}` : `${nginx.pidFile} does not exist`;
    return fail(`cannot tell which user nginx's workers run as: ${why}`, 'start nginx (systemctl start nginx, or nginx), or set NGINX_PID_FILE to its pid file');
  }
  const file = liveFile(ctx.config, 'a');
  const blocked = firstBlockedDir(dirsOnTheWay(file), who);
  if (blocked) {
    return fail(`nginx workers run as ${who.name} (uid ${who.uid}) and cannot reach ${nginx.liveDir}: ${blocked.dir} is mode ${blocked.mode.toString(8).padStart(4, '0')} owned by ${userName(blocked.uid)}`, `chmod o+x ${blocked.dir}   (search only, no listing), or set NGINX_LIVE_DIR to a folder they can reach`);
  }
  return pass(`nginx workers (${who.name}) can reach ${nginx.liveDir}`);
}

/** The words of a `sudo -n` command after the prefix, for `sudo -n -l`; undefined when it does not use sudo. Pure. */
export function sudoListArgv(command: string): string[] | undefined {
  const match = /^sudo -n\s+(.+)$/.exec(command.trim());
  return match ? sudoArgv.list(match[1].split(/\s+/)) : undefined;
}

/** NGINX_TEST_CMD and NGINX_RELOAD_CMD may run without a password (asked with `sudo -n -l <cmd>`, which runs nothing). */
export async function checkSudo(ctx: CheckContext): Promise<CheckResult> {
  const { testCmd, reloadCmd, helper } = ctx.config.nginx;
  if (helper.length > 0) {
    const allowed = helper[0] === 'sudo' ? await probeCommand(sudoArgv.list(helper.filter((word) => word !== 'sudo' && word !== '-n')), { env: ctx.env, timeoutMs: 10_000 }) : { exitCode: 0 };
    return allowed.exitCode === 0 ? pass(`NGINX_HELPER may run without a password: ${helper.join(' ')}`) : fail(`sudo asks ${currentUserName()} for a password for NGINX_HELPER (${helper.join(' ')})`, 'add the rule in templates/nginx/sudoers (sudo visudo -f /etc/sudoers.d/switchyard)');
  }
  if (upstreamIsCurrent(ctx)) return pass(`no sudo needed: ${ctx.config.nginx.upstreamFile} is current and a nginx-live-file deploy only writes the live-files`);
  const refused: string[] = [];
  const checked: string[] = [];
  for (const command of [testCmd, reloadCmd]) {
    const argv = sudoListArgv(command);
    if (!argv) continue;
    const result = await probeCommand(argv, { env: ctx.env, timeoutMs: 10_000 });
    if (result.exitCode === -1 && /not found|ENOENT/.test(result.error ?? '')) return fail(`sudo is not installed, and ${command === testCmd ? 'NGINX_TEST_CMD' : 'NGINX_RELOAD_CMD'} starts with sudo`, 'apt-get install -y sudo, then add the sudoers line ./deploy.ts init prints');
    if (result.exitCode === 0) checked.push(command);
    else refused.push(command);
  }
  if (refused.length > 0) {
    const line = sudoersLine(currentUserName(), testCmd, reloadCmd, absoluteProgram);
    return fail(`sudo asks ${currentUserName()} for a password for ${refused.map((command) => `\`${command}\``).join(' and ')}, so a deploy would fail at the switch`, `add to /etc/sudoers.d/switchyard (sudo visudo -f /etc/sudoers.d/switchyard): ${line}`);
  }
  return pass(checked.length ? `allowed without a password: ${checked.map((command) => `\`${command}\``).join(', ')}` : 'NGINX_TEST_CMD and NGINX_RELOAD_CMD use no sudo');
}

/** When a slot is live: the check URL reaches it through nginx (the site's X-Switchyard-Upstream names its port). */
export async function checkTraffic(ctx: CheckContext): Promise<CheckResult> {
  const { config } = ctx;
  const state = loadState(config.deployRoot, config.appName, config.ports);
  const result = await probe(config.nginx.checkUrl, 3000, { host: config.nginx.checkHost });
  const upstream = String(result.headers?.['x-switchyard-upstream'] ?? '');
  if (result.status === undefined) return fail(`${config.nginx.checkUrl} did not answer (${result.error}): nginx does not listen there`, 'start nginx with the site ./deploy.ts nginx-site prints, or fix NGINX_CHECK_URL/NGINX_LISTEN');
  // The site's check location sets the header on every answer, a 502 included: without it another server took the request.
  if (!upstream) return fail(`${config.nginx.checkUrl} answered HTTP ${result.status} without an X-Switchyard-Upstream header: another nginx server takes these requests (Debian's sites-enabled/default is default_server on port 80)`, 'install the site ./deploy.ts nginx-site prints and remove the other server on that port (rm /etc/nginx/sites-enabled/default), reload nginx; or fix NGINX_LISTEN/NGINX_CHECK_URL');
  if (!state.live) return pass(`${config.nginx.checkUrl} is answered by Switchyard's site; nothing is live yet`);
  const endpoints = slotEndpoints(config, state.live);
  if (!upstream.split(/[,\s]+/).some((address) => endpoints.some((endpoint) => isUpstreamAddress(address, endpoint)))) {
    return fail(`${config.nginx.checkUrl} was answered by ${upstream}, not by live slot ${state.live} (${describeEndpoints(endpoints)})`, './deploy.ts status shows what serves; ./deploy.ts status --repair puts traffic back on the live slot');
  }
  return result.ok ? pass(`${config.nginx.checkUrl} → slot ${state.live} (${upstream}), HTTP ${result.status}`) : fail(`${config.nginx.checkUrl} reached slot ${state.live} but it answered HTTP ${result.status}`, `./deploy.ts logs ${state.live} shows why its ${config.healthPath} fails`);
}

export function absoluteProgram(program: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) if (existsSync(`${dir}/${program}`)) return `${dir}/${program}`;
  return program;
}
