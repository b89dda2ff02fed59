import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { templateFile } from '../lib/project-dir.ts';

/** A copy of templates/nginx/switchyard-nginx-helper with its settings block pointed at `dir`, as root installs it. */
export function installHelper(
  dir: string,
  settings: { nginx: string; nginxArgs?: string; reload?: string; socketDirs?: string },
): { helper: string; upstreamDir: string } {
  const upstreamDir = path.join(dir, 'etc-switchyard');
  mkdirSync(upstreamDir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const text = readFileSync(templateFile('nginx/switchyard-nginx-helper'), 'utf8')
    .replace(/^UPSTREAM_DIR=.*$/m, `UPSTREAM_DIR=${upstreamDir}`)
    .replace(/^NGINX=.*$/m, `NGINX=${settings.nginx}`)
    .replace(/^NGINX_ARGS=.*$/m, `NGINX_ARGS="${settings.nginxArgs ?? ''}"`)
    .replace(/^RELOAD=.*$/m, `RELOAD="${settings.reload ?? ''}"`)
    .replace(/^SOCKET_DIRS=.*$/m, (line) => (settings.socketDirs === undefined ? line : `SOCKET_DIRS="${settings.socketDirs}"`));
  const helper = path.join(dir, 'switchyard-nginx-helper');
  writeFileSync(helper, text, { mode: 0o755 });
  return { helper, upstreamDir };
}

