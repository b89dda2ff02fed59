import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import { existsSync } from 'node:fs';
import { prepareDeployRoot } from '../lib/host/deploy-root.ts';
import { writeFileAtomic } from '../lib/host/files.ts';
import { liveFile } from '../lib/traffic/nginx-live-file.ts';
import { loadState } from '../lib/record/state.ts';
import { upstreamFor } from '../lib/traffic/upstream.ts';

export const command = defineCommand({
  spec: SPECS.upstream,
  config: true,
  help: `Prints the upstream block Switchyard would write for the current live slot (slot a when nothing is
live yet); with --write, writes it to NGINX_UPSTREAM_FILE (without reloading nginx). Use it once when
setting up nginx, so the site config's include exists before the first deploy.
`,
  async run({ flags, config, reporter }) {
    const { content, live } = upstreamFor(config, loadState(config.deployRoot, config.appName, config.ports));
    if (flags.write === true) {
      prepareDeployRoot(config);
      writeFileAtomic(config.nginx.upstreamFile, content, 0o644);
      if (config.switchKind === 'nginx-live-file' && !existsSync(liveFile(config, 'a')) && !existsSync(liveFile(config, 'b'))) {
        writeFileAtomic(liveFile(config, live), `${live}\n`, 0o644);
      }
      reporter.success(`wrote ${config.nginx.upstreamFile} (slot ${live} first); nginx was not reloaded`);
    } else {
      process.stdout.write(content);
    }
    return 0;
  },
});
