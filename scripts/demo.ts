/**
 * `npm run demo [-- --switch nginx-live-file|nginx-reload|passive]`: a real deploy of the bundled example
 * app through a real nginx, on this machine, unprivileged, in a temp folder: deploy v1, deploy v2
 * under load, roll back under load, status. It shows SWITCH=nginx-live-file (no reload, zero failed
 * requests) unless told otherwise.
 * Everything it starts is stopped at the end and its temp folder removed.
 */
import { execa } from 'execa';
import { createTestHost, DEPLOY_TS } from '../harness/host.ts';
import { failures, isReloadReset, startLoad, summarizeFailures } from '../harness/load.ts';

const say = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);

const switchArg = process.argv.indexOf('--switch');
const switchKind = (switchArg >= 0 ? process.argv[switchArg + 1] : 'nginx-live-file') as 'nginx-reload' | 'nginx-live-file' | 'passive';
if (!['nginx-reload', 'nginx-live-file', 'passive'].includes(switchKind)) {
  console.error(`demo: --switch must be nginx-live-file (the default), nginx-reload or passive; got ${JSON.stringify(switchKind)}`);
  process.exit(2);
}
const host = await createTestHost({ switchKind });
let exitCode = 0;
try {
  say(`SWITCH=${switchKind}; example app repo ${host.example.repo}, nginx on http://127.0.0.1:${host.nginx.port}, slots on ports ${host.ports.a} and ${host.ports.b}`);
  const deploy = async (...args: string[]) => {
    const result = await execa(DEPLOY_TS, args, { env: { DEPLOY_ENV_FILE: host.envFile }, stdio: 'inherit', reject: false });
    if (result.exitCode !== 0) throw new Error(`./deploy.ts ${args.join(' ')} exited with ${result.exitCode}`);
  };
  const served = async () => JSON.stringify((await host.get('/')).json);

  say('./deploy.ts deploy            (v1, newest commit of main)');
  await deploy('deploy');
  console.log(`through nginx: ${await served()}`);

  for (const [title, args, version] of [
    ['./deploy.ts deploy <v2 sha>   under 32 keep-alive clients (GET, POST, slow GET)', ['deploy', host.example.commit('v2')], 'v2'],
    ['./deploy.ts rollback          under the same load, no rebuild', ['rollback'], 'v1'],
  ] as const) {
    say(title);
    const load = startLoad({ port: host.nginx.port, connections: 32, maxDurationMs: 120_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await deploy(...args);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const records = await load.stop();
    console.log(`load through nginx: ${summarizeFailures(records)}; now serving ${await served()}`);
    const resets = failures(records).filter(isReloadReset).length;
    if (resets > 0) console.log(`(${resets} = client keep-alive connection(s) closed by nginx's own reload as they were reused; SWITCH=nginx-live-file never reloads: see the README)`);
    // Only the reload-based switch may lose a request, and only to nginx's own reload.
    const tolerated = switchKind === 'nginx-reload' ? resets : 0;
    if (failures(records).length > tolerated || (await host.get('/')).json?.version !== version) exitCode = 1;
  }

  say('./deploy.ts status');
  await deploy('status');
} catch (error) {
  console.error(`demo failed: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  const folder = host.dir;
  await host.cleanUp();
  const verdict = switchKind === 'nginx-reload' ? 'no request failed upstream' : 'zero failed requests';
  console.log(`\ndemo ${exitCode === 0 ? `finished: ${verdict}` : 'FAILED'}; everything it started was stopped (${folder} removed)`);
}
process.exitCode = exitCode;
