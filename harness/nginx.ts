import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { renderSite, siteTemplate } from '../lib/traffic/nginx-site.ts';
import { acceptsConnections as answers, freePort } from './ports.ts';

export type TestNginx = {
  port: number;
  prefix: string;
  confFile: string;
  pidFile: string;
  errorLog: string;
  testCmd: string;
  reloadCmd: string;
  url(pathname: string): string;
  /** Lines of the error log at crit, alert or emerg level: a permission nginx lacks shows up here. */
  severeErrors(): string[];
  stop(): Promise<void>;
};

/** The nginx binary, or a failure that says how to install it (tests never skip silently). */
export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('nginx is not installed: install it with `apt-get install -y nginx-light` (Debian/Ubuntu); the end-to-end tests need a real nginx');
}

/** Where a test nginx in `dir` keeps its files, and the commands that test and reload it: known before it starts. */
export function nginxLayout(dir: string) {
  const binary = nginxBinary();
  const confFile = path.join(dir, 'nginx.conf');
  const base = `${binary} -p ${dir} -c ${confFile}`;
  return { binary, confFile, pidFile: path.join(dir, 'nginx.pid'), errorLog: path.join(dir, 'error.log'), testCmd: `${base} -t -q`, reloadCmd: `${base} -s reload` };
}

/**
 * A real nginx with its own prefix in `dir`, on a loopback port, serving `site` (the text
 * `./deploy.ts nginx-site` printed, or a template rendered here for the bench's baselines).
 * Started as whoever runs the tests: as root (CI), its workers run as nobody, as with a distro
 * nginx, so they reach only what other users may reach.
 */
export async function startNginx(
  dir: string,
  options: { site?: string; port?: number; upstreamFile?: string; upstreamName?: string; workers?: number },
): Promise<TestNginx> {
  const layout = nginxLayout(dir);
  const port = options.port ?? (await freePort());
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  // The workers buffer request bodies under the prefix: it must be theirs to reach, like /var/lib/nginx.
  chmodSync(dir, 0o755);
  // The bench's baselines write a bare upstream block: the site's session map gets an empty slot from here.
  const site =
    options.site ??
    renderSite(readFileSync(siteTemplate('nginx-reload'), 'utf8'), {
      UPSTREAM_FILE: options.upstreamFile ?? '',
      UPSTREAM_NAME: options.upstreamName ?? '',
      LIVE_DIR: dir,
      ACCESS_LOG: '# the bench baselines keep no access log',
      LISTEN: `127.0.0.1:${port}`,
      HEALTH_PATH: '/health',
      SERVER_NAME: '_',
      STICKY_PATHS: '',
      STREAM_SOURCE: '127.0.0.2',
      STREAM_BIND: '',
      // The bench's baselines have no judging file: the log line is never sent.
      TRAFFIC_LOG_PORT: '9',
      JUDGE_FORMAT: 'j1',
      HEALTH_URI: '/health',
    }) + `map $upstream_addr $${options.upstreamName ?? ''}_served { default ''; }\n`;
  const siteFile = path.join(dir, 'site.conf');
  writeFileSync(siteFile, site);
  const temp = (name: string) => `${name}_temp_path ${path.join(dir, 'tmp', name)};`;
  writeFileSync(
    layout.confFile,
    [
      `worker_processes ${options.workers ?? 2};`,
      'daemon off;',
      `pid ${layout.pidFile};`,
      `error_log ${layout.errorLog} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
      `  include ${siteFile};`,
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(layout.binary, ['-p', dir, '-c', layout.confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`test nginx did not start on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`);
    }
    await sleep(50);
  }
  return {
    port,
    prefix: dir,
    confFile: layout.confFile,
    pidFile: layout.pidFile,
    errorLog: layout.errorLog,
    testCmd: layout.testCmd,
    reloadCmd: layout.reloadCmd,
    url: (pathname) => `http://127.0.0.1:${port}${pathname}`,
    severeErrors() {
      const log = existsSync(layout.errorLog) ? readFileSync(layout.errorLog, 'utf8') : '';
      return log.split('\n').filter((line) => /\[(crit|alert|emerg)\]/.test(line));
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      for (let waited = 0; child.exitCode === null && waited < 5000; waited += 50) await sleep(50);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

