import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { sudoArgv } from '../host/commands/sudo.ts';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { prepareDeployRoot } from '../host/deploy-root.ts';
import { SwitchyardError } from '../errors.ts';
import { writeFileAtomic } from '../host/files.ts';
import { planFile } from './init.ts';
import { renderSite, siteTemplate, siteValues } from '../traffic/nginx-site.ts';
import { renderTlsSite } from '../traffic/nginx-tls.ts';
import { probeCommand, runCommand, runShell } from '../host/run.ts';
import { loadState } from '../record/state.ts';
import { liveFile } from '../traffic/nginx-live-file.ts';
import { upstreamFor } from '../traffic/upstream.ts';
import { readPidFile } from '../host/process.ts';
import { childPids } from '../host/proc.ts';
import { fileArgv } from '../host/commands/file.ts';
import { waitForOldWorkers } from '../traffic/nginx-workers.ts';
import { describeSiteEdits, planSiteInstall, siteOrigin, stampedSite } from './site-file.ts';

/** `./deploy.ts init`, the half that writes: each step says what it did ("created", "unchanged", ...). */

export type Done = { item: string; status: 'created' | 'unchanged' | 'updated' | 'replaced' | 'ran' | 'skipped'; detail: string };

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Write `wanted` to `file` unless it already holds exactly that; a different file only with `force`. */
export function writeOnce(item: string, file: string, wanted: string, options: { force: boolean; mode: number; forceFlag?: string }): Done {
  const existing = readOrUndefined(file);
  const action = planFile(existing, wanted, options.force);
  if (action === 'unchanged') return { item, status: 'unchanged', detail: file };
  if (action === 'refuse') {
    throw new SwitchyardError(`${file} exists with other content`, {
      untouched: 'it was left as it is; nothing after it was done',
      next: `compare it with what init would write, then run init again with ${options.forceFlag ?? '--force'} to replace it (or edit it by hand)`,
    });
  }
  writeFileAtomic(file, wanted, options.mode);
  return { item, status: action === 'create' ? 'created' : 'updated', detail: file };
}

/** DEPLOY_ROOT with its modes (lib/host/deploy-root.ts): created, tightened or already right. */
export function ensureDeployRoot(config: Config): Done {
  const before = modesUnder(config.deployRoot);
  prepareDeployRoot(config);
  const after = modesUnder(config.deployRoot);
  const status = before === undefined ? 'created' : before === after ? 'unchanged' : 'updated';
  return { item: 'DEPLOY_ROOT', status, detail: `${config.deployRoot} (0711; nginx/ 0755; the rest private)` };
}

function modesUnder(root: string): string | undefined {
  if (!existsSync(root)) return undefined;
  const entries = [root, ...['nginx', 'slots', 'run'].map((name) => path.join(root, name))];
  return entries.map((entry) => (existsSync(entry) ? `${entry}:${(statSync(entry).mode & 0o7777).toString(8)}` : `${entry}:-`)).join(' ');
}

/** The upstream file (and, for the live-file mode, the first live-file): what `./deploy.ts upstream --write` writes. */
export function ensureUpstream(config: Config): Done[] {
  const { content, live } = upstreamFor(config, loadState(config.deployRoot, config.appName, config.ports));
  // Switchyard owns this file and rewrites it on deploys: replacing it is always fine. A root folder
  // (docs/security.md) is left to root and the helper: init prints the command.
  let upstream: Done;
  try {
    upstream = writeOnce('nginx upstream', config.nginx.upstreamFile, content, { force: true, mode: 0o644 });
  } catch (error) {
    if (!['EACCES', 'EPERM', 'ENOENT'].includes((error as NodeJS.ErrnoException).code ?? '') || (process.getuid?.() ?? 0) === 0) throw error;
    upstream = { item: 'nginx upstream', status: 'skipped', detail: `${config.nginx.upstreamFile} is root's to write: see below` };
  }
  const done = [upstream];
  if (config.switchKind === 'nginx-live-file') {
    if (existsSync(liveFile(config, 'a')) || existsSync(liveFile(config, 'b'))) done.push({ item: 'live-file', status: 'unchanged', detail: config.nginx.liveDir });
    else {
      writeFileAtomic(liveFile(config, live), `${live}\n`, 0o644);
      done.push({ item: 'live-file', status: 'created', detail: liveFile(config, live) });
    }
  }
  return done;
}

/** The site file for this configuration, stamped (site-file.ts): what `./deploy.ts nginx-site` prints and init installs, byte for byte. */
export function renderSiteFile(config: Config): string {
  const values = siteValues(config);
  const plain = renderSite(readFileSync(siteTemplate(config.switchKind), 'utf8'), values);
  const { tls } = config.nginx;
  const body = tls.mode === 'off' ? plain : renderTlsSite({ site: plain, upstreamName: values.UPSTREAM_NAME, listen: values.LISTEN, serverName: values.SERVER_NAME, tls });
  return stampedSite(`${config.appName}: SWITCH=${config.switchKind}${tls.mode === 'off' ? '' : `, NGINX_TLS=${tls.mode}`}, rendered by ./deploy.ts nginx-site (and init) from ${config.envFile}`, body);
}

/** The site, kept at DEPLOY_ROOT/nginx/site.conf for the operator (or --nginx) to install. */
export function ensureSiteFile(config: Config): { done: Done; file: string; content: string } {
  const content = renderSiteFile(config);
  // Beside the live-files: the deploy user's folder even when the upstream is in a root one.
  const file = path.join(config.nginx.liveDir, 'site.conf');
  return { done: writeOnce('nginx site', file, content, { force: true, mode: 0o644 }), file, content };
}

/** How init may write under the nginx folder: itself (root), through `sudo -n`, or not at all. */
export async function nginxRights(isRoot: boolean, env: Record<string, string | undefined>): Promise<'root' | 'sudo' | undefined> {
  if (isRoot) return 'root';
  const sudo = await probeCommand(sudoArgv.check(), { timeoutMs: 5000, env });
  return sudo.exitCode === 0 ? 'sudo' : undefined;
}

/**
 * Install the site and enable it (Debian layout) or drop it in conf.d; nothing when it is already
 * there. A file edited since Switchyard wrote it (certbot's HTTPS lines) is kept byte for byte
 * unless `force`, and then kept beside as .previous.
 */
export async function installSite(site: { file: string; content: string }, target: { file: string; link?: string }, rights: 'root' | 'sudo', options: { force: boolean; diffCommand: string; env: Record<string, string | undefined> }): Promise<Done[]> {
  const env = options.env;
  const done: Done[] = [];
  const sudo = rights === 'sudo' ? sudoArgv.prefix() : [];
  const installed = readOrUndefined(target.file);
  const origin = siteOrigin(installed, site.content);
  const action = planSiteInstall(origin, options.force);
  const previous = `${target.file}.previous`;
  if (action === 'refuse') {
    throw new SwitchyardError(`${target.file} ${origin === 'edited' ? 'was edited since Switchyard wrote it' : 'has no Switchyard checksum line (written by hand, or by an older Switchyard and edited since)'}: ${describeSiteEdits(installed ?? '', site.content)}`, {
      untouched: 'it was kept byte for byte, and nginx was not reloaded',
      next: `see every difference with ${options.diffCommand}; to keep it, leave it and run init without --nginx (carry over by hand what you want of the diff); to replace it, run init again with --force (the current file is kept as ${previous}; certbot install --nginx adds HTTPS again)`,
    });
  }
  if (action === 'unchanged') done.push({ item: 'site installed', status: 'unchanged', detail: target.file });
  else {
    if (action === 'replace') await runCommand([...sudo, ...fileArgv.copyKeep(target.file, previous)], { env });
    // A new name, then a rename: nginx (or a crash) never finds half a site.
    const next = `${target.file}.switchyard-new`;
    await runCommand([...sudo, ...fileArgv.install('644', site.file, next)], { env });
    await runCommand([...sudo, ...fileArgv.move(next, target.file)], { env });
    const status = action === 'create' ? 'created' : action === 'update' ? 'updated' : 'replaced';
    done.push({ item: 'site installed', status, detail: action === 'replace' ? `${target.file} (the previous one kept as ${previous})` : target.file });
  }
  if (target.link) {
    if (isLinkTo(target.link, target.file)) done.push({ item: 'site enabled', status: 'unchanged', detail: target.link });
    else {
      await runCommand([...sudo, ...fileArgv.symlink(target.file, target.link)], { env });
      done.push({ item: 'site enabled', status: 'created', detail: `${target.link} → ${target.file}` });
    }
  }
  return done;
}

function isLinkTo(link: string, file: string): boolean {
  try {
    return lstatSync(link).isSymbolicLink() && path.resolve(path.dirname(link), readlinkSync(link)) === path.resolve(file);
  } catch {
    return false;
  }
}

/**
 * NGINX_TEST_CMD, then NGINX_RELOAD_CMD only when something nginx reads changed. The reload command
 * returns once the master has the signal, not once it opened the site's listen socket: init waits,
 * as a deploy does, until the workers of the previous config stop taking requests, so the site
 * answers when init says it is in place.
 */
export async function testAndReload(
  config: Config,
  changed: boolean,
  env: Record<string, string | undefined>,
  report: (message: string) => void = () => undefined,
): Promise<Done[]> {
  await runShell(config.nginx.testCmd, { env, timeoutMs: 30_000 });
  const done: Done[] = [{ item: 'nginx test', status: 'ran', detail: config.nginx.testCmd }];
  if (!changed) done.push({ item: 'nginx reload', status: 'skipped', detail: 'nothing nginx reads changed' });
  else {
    const master = readPidFile(config.nginx.pidFile);
    const oldWorkers = master ? childPids(master) : [];
    await runShell(config.nginx.reloadCmd, { env, timeoutMs: 30_000 });
    const applied = await waitForOldWorkers(master, oldWorkers, config.nginx.pidFile, 30_000, report);
    done.push({ item: 'nginx reload', status: 'ran', detail: `${config.nginx.reloadCmd} (${applied})` });
  }
  return done;
}
