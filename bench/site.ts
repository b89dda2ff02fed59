import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startNginx, type TestNginx } from '../harness/nginx.ts';
import { upstreamName } from '../lib/traffic/upstream.ts';

export const APP_NAME = 'exampleapp';
export const UPSTREAM = upstreamName(APP_NAME);

/**
 * The baselines' nginx: the same site template and unprivileged nginx as harness/host.ts, with an
 * upstream block the strategy writes itself (named UPSTREAM).
 */
export async function startSite(dir: string, upstream: string): Promise<TestNginx> {
  const upstreamFile = path.join(dir, 'nginx-upstream.conf');
  writeFileSync(upstreamFile, upstream);
  return startNginx(path.join(dir, 'nginx'), { upstreamFile, upstreamName: UPSTREAM });
}

/** An upstream block named UPSTREAM with these lines inside. */
export function upstreamText(body: string[]): string {
  return [`upstream ${UPSTREAM} {`, ...body.map((line) => `    ${line}`), '}', ''].join('\n');
}
