import type { Config } from '../../config/config.ts';
import { checkDeployRoot, checkDiskSpace } from './deploy-root.ts';
import { checkHooksSafe, checkNode, checkPorts } from './host.ts';
import { checkNginxConfig, checkSudo, checkTraffic, checkWorkersReach } from './nginx.ts';
import { checkNginxBoundary } from './nginx-boundary.ts';
import { checkRepository } from './repo.ts';
import { checkSwitchCommand } from './switch-command.ts';
import { checkSystemdSudo, checkSystemdUnit } from './systemd.ts';
import { checkCertificate, checkRenewal } from './tls.ts';
import type { Check, CheckContext, CheckOutcome } from './types.ts';

export type { Check, CheckContext, CheckOutcome } from './types.ts';

/** The checks for a configuration, in the order they print; nginx ones only for the modes that use nginx, the switch command's for SWITCH=command. */
export function doctorChecks(config: Config): Check[] {
  const nginx = config.switchKind === 'nginx-live-file' || config.switchKind === 'nginx-reload';
  return [
    { title: 'repository', run: checkRepository },
    { title: 'DEPLOY_ROOT', run: checkDeployRoot },
    ...(config.switchKind !== 'none' && config.switchKind !== 'command' ? [{ title: 'nginx config', run: checkNginxConfig }] : []),
    ...(config.switchKind === 'command' ? [{ title: 'switch command', run: checkSwitchCommand }] : []),
    ...(config.switchKind === 'nginx-live-file' ? [{ title: 'nginx workers', run: checkWorkersReach }] : []),
    ...(nginx ? [{ title: 'sudo', run: checkSudo }] : []),
    ...(nginx ? [{ title: 'nginx rights', run: checkNginxBoundary }] : []),
    ...(nginx ? [{ title: 'traffic', run: checkTraffic }] : []),
    ...(nginx && config.nginx.tls.mode !== 'off' ? [{ title: 'certificate', run: checkCertificate }] : []),
    ...(nginx && config.nginx.tls.mode === 'acme' ? [{ title: 'renewal', run: (ctx: CheckContext) => checkRenewal(ctx) }] : []),
    ...(config.processManager === 'systemd' ? [{ title: 'systemd unit', run: checkSystemdUnit }, { title: 'systemd sudo', run: checkSystemdSudo }] : []),
    { title: 'slot ports', run: checkPorts },
    { title: 'hooks', run: checkHooksSafe },
    { title: 'disk space', run: checkDiskSpace },
    { title: 'node', run: checkNode },
  ];
}

export const CHECK_TIMEOUT_MS = 25_000;

/** Run every check at once, each bounded by `timeoutMs` whatever the host does; outcomes in list order. */
export async function runChecks(checks: Check[], ctx: CheckContext, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckOutcome[]> {
  return Promise.all(
    checks.map(async (check): Promise<CheckOutcome> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<CheckOutcome>((resolve) => {
        timer = setTimeout(() => resolve({ title: check.title, ok: false, detail: `did not finish within ${timeoutMs / 1000}s`, fix: 'run doctor again; if it persists, check this part by hand' }), timeoutMs);
      });
      try {
        const run = Promise.resolve()
          .then(() => check.run(ctx))
          .then((result) => ({ title: check.title, ...result }))
          .catch((error: Error) => ({ title: check.title, ok: false, detail: `the check itself failed: ${error.message}`, fix: 'fix what it names, then run doctor again' }));
        return await Promise.race([run, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}

/** One line per check, ✔ or ✖, and under each ✖ its fix. Pure. */
export function formatOutcomes(outcomes: CheckOutcome[]): string[] {
  const width = Math.max(...outcomes.map((outcome) => outcome.title.length));
  return outcomes.flatMap((outcome) => [
    `${outcome.ok ? '✔' : '✖'} ${outcome.title.padEnd(width)}  ${outcome.detail}`,
    ...(!outcome.ok && outcome.fix ? [`  ${' '.repeat(width)}  fix: ${outcome.fix}`] : []),
  ]);
}
