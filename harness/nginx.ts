import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.ts';

const SITE_TEMPLATES = {
  upstream: fileURLToPath(new URL('../templates/nginx/site.conf', import.meta.url)),
  'live-file': fileURLToPath(new URL('../templates/nginx/site-live-file.conf', import.meta.url)),
};

export type TestNginx = {
  port: number;
  prefix: string;
  confFile: string;
  pidFile: string;
  testCmd: string;
  reloadCmd: string;
  url(pathname: string): string;
  stop(): Promise<void>;
};

/** The nginx binary, or a failure that says how to install it (tests never skip silently). */
export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (existsSync(candidate)) return candidate;
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error('nginx is not installed: install it with `apt-get install -y nginx-light` (Debian/Ubuntu); the end-to-end tests need a real nginx');
}

/** The real site template with its placeholders filled in for this test instance. */
export function renderSite(options: { upstreamFile: string; upstreamName: string; listen: string; healthPath: string; liveDir?: string }): string {
  return readFileSync(SITE_TEMPLATES[options.liveDir ? 'live-file' : 'upstream'], 'utf8')
    .replaceAll('{{LIVE_DIR}}', options.liveDir ?? '')
    .replaceAll('{{UPSTREAM_FILE}}', options.upstreamFile)
    .replaceAll('{{UPSTREAM_NAME}}', options.upstreamName)
    .replaceAll('{{LISTEN}}', options.listen)
    .replaceAll('{{HEALTH_PATH}}', options.healthPath);
}

/**
 * An unprivileged nginx with its own prefix in `dir`, on a free loopback port, running the real
 * site template. The upstream file must exist before it starts.
 */
export async function startNginx(dir: string, options: { upstreamFile: string; upstreamName: string; healthPath?: string; workers?: number; liveDir?: string }): Promise<TestNginx> {
  const binary = nginxBinary();
  const port = await freePort();
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  // Worker processes may run as nobody when the tests run as root: they must reach the prefix.
  chmodSync(dir, 0o755);
  const pidFile = path.join(dir, 'nginx.pid');
  const siteFile = path.join(dir, 'site.conf');
  writeFileSync(siteFile, renderSite({ ...options, listen: `127.0.0.1:${port}`, healthPath: options.healthPath ?? '/health' }));
  const confFile = path.join(dir, 'nginx.conf');
  const temp = (name: string) => `${name}_temp_path ${path.join(dir, 'tmp', name)};`;
  writeFileSync(
    confFile,
    [
      `worker_processes ${options.workers ?? 2};`,
      'daemon off;',
      `pid ${pidFile};`,
      `error_log ${path.join(dir, 'error.log')} warn;`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
      `  include ${siteFile};`,
      '}',
      '',
    ].join('\n'),
  );
  const base = `${binary} -p ${dir} -c ${confFile}`;
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
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
    confFile,
    pidFile,
    testCmd: `${base} -t -q`,
    reloadCmd: `${base} -s reload`,
    url: (pathname) => `http://127.0.0.1:${port}${pathname}`,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      for (let waited = 0; child.exitCode === null && waited < 5000; waited += 50) await sleep(50);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

async function answers(port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
