import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from '../../config/duration.ts';
import { SwitchyardError } from '../../errors.ts';
import { describeEndpoint, slotEndpoints, type Endpoint } from '../../slot/endpoints.ts';
import { describeProbe, describeTargets, endpointInUse, slotHealthTargets, waitUntilAllHealthy } from '../../slot/health.ts';
import { interruption } from '../failure.ts';
import type { Run, StepFunction, StepIo } from '../types.ts';

/** Wait until every process of the target slot answers its health URL with 2xx, or explain why not. */
export const health: StepFunction = async (run, io) => {
  const { config, ctx } = io;
  const step = io.reporter.step('health');
  const targets = slotHealthTargets(config, run.target);
  const { result, target } = await waitUntilAllHealthy(targets, {
    timeoutMs: config.healthTimeoutMs,
    hasExited: () => io.processes.hasExited(run.target),
    onWait: (_elapsed, last) => step.progress(`waiting for ${describeTargets(targets)} (last: ${describeProbe(last)})`),
    signal: ctx.signal,
  });
  if (result.healthy) {
    step.done(`${describeTargets(targets)} answered 2xx`);
    return;
  }
  step.fail();
  if (ctx.signal.aborted) throw interruption(ctx.signal);
  const held = result.exited ? await endpointAnswersSoon(run, io) : undefined;
  if (held) {
    // The start command is gone but its port answers: it put the app in the background itself.
    const where = describeEndpoint(held);
    throw new SwitchyardError(`slot ${run.target}'s START_CMD exited, yet something holds ${where}: the command daemonized the app (setsid, nohup, &, pm2 start), so Switchyard can neither watch nor stop it`, {
      untouched: `the escaped process still holds ${where}`,
      next: `run the app in the foreground in START_CMD (e.g. node server.js, pm2-runtime), then stop the escaped process (${held.kind === 'port' ? `ss -ltnp 'sport = :${held.port}'` : `ss -lxp | grep ${held.path}`}) and deploy again`,
      details: io.logTail(),
    });
  }
  const why = result.exited ? `the app exited during boot` : `${target.label} did not answer 2xx within ${formatDuration(config.healthTimeoutMs)} (last: ${describeProbe(result.last)})`;
  throw new SwitchyardError(`slot ${run.target} failed its health check: ${why}`, { details: io.logTail() });
};

/** An endpoint of the target slot something answers on within 2 s (a daemonized app needs a moment to listen). */
async function endpointAnswersSoon(run: Readonly<Run>, io: StepIo): Promise<Endpoint | undefined> {
  const deadline = Date.now() + 2000;
  do {
    for (const endpoint of slotEndpoints(io.config, run.target)) if (await endpointInUse(io.config.host, endpoint)) return endpoint;
    await sleep(100);
  } while (Date.now() < deadline);
  return undefined;
}
