import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { nginxBinary } from '../harness/nginx.ts';

export type HostInfo = {
  cpus: number;
  cpuModel: string;
  node: string;
  nginx: string;
  os: string;
  memoryGiB: number;
  date: string;
  commit: string;
};

/** The Switchyard commit measured, marked "+changes" when its code differs from it. */
function switchyardCommit(): string {
  const root = new URL('..', import.meta.url).pathname;
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--', 'deploy.ts', 'lib', 'scripts', 'graceful', 'templates'], { encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? '+changes' : ''}`;
}

export function hostInfo(): HostInfo {
  const nginx = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' });
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    nginx: `${nginx.stderr}${nginx.stdout}`.trim().replace(/^nginx version:\s*/, ''),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    date: new Date().toISOString(),
    commit: switchyardCommit(),
  };
}

export function describeHost(host: HostInfo): string {
  return `${host.cpus} × ${host.cpuModel}, ${host.memoryGiB} GiB, ${host.os}, Node ${host.node}, ${host.nginx}`;
}
