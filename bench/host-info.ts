import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { nginxBinary } from '../harness/nginx.ts';

export type HostInfo = { cpus: number; cpuModel: string; node: string; nginx: string; os: string; memoryGiB: number; date: string };

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
  };
}

export function describeHost(host: HostInfo): string {
  return `${host.cpus} × ${host.cpuModel}, ${host.memoryGiB} GiB, ${host.os}, Node ${host.node}, nginx ${host.nginx}`;
}
