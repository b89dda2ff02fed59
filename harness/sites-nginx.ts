import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startNginx, type TestNginx } from './nginx.ts';
import { freePort } from './ports.ts';

/**
 * A real nginx laid out like Debian's: `etc/sites-available` and `etc/sites-enabled` (included
 * from http {}), empty at first, so `./deploy.ts init --nginx --nginx-dir <etc>` or the operator's
 * printed commands install the site. A placeholder server on its own port lets it start empty.
 */
export async function startSitesNginx(dir: string): Promise<TestNginx & { etc: string }> {
  const etc = path.join(dir, 'etc');
  for (const sub of ['sites-available', 'sites-enabled']) mkdirSync(path.join(etc, sub), { recursive: true, mode: 0o755 });
  const port = await freePort();
  const nginx = await startNginx(path.join(dir, 'nginx'), { port, site: `include ${etc}/sites-enabled/*;\nserver { listen 127.0.0.1:${port}; return 204; }\n` });
  return { ...nginx, etc };
}
