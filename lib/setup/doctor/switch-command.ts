import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { probeShell } from '../../host/run.ts';
import { loadState } from '../../record/state.ts';
import { switchCommandEnv } from '../../traffic/command.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/** The program a shell command starts (after any leading VAR=value words); undefined for an empty command. Pure. */
export function commandProgram(command: string): string | undefined {
  return command.trim().split(/\s+/).find((word) => word && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
}

/** Why `program` cannot run (a path that is missing or not executable, a name not on PATH); undefined when it can. */
export function programProblem(program: string, pathValue: string, baseDir: string): string | undefined {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      // root passes X_OK for any file: the mode must still name an execute bit.
      const stat = statSync(file);
      return stat.isFile() && (stat.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (program.includes('/')) {
    const file = path.resolve(baseDir, program);
    try {
      statSync(file);
    } catch {
      return `${file} does not exist`;
    }
    return executable(file) ? undefined : `${file} is not an executable file (chmod +x ${file})`;
  }
  // Shell built-ins and keywords run whatever PATH holds.
  if (['exec', 'command', 'env', 'test', '[', 'true', 'false', 'echo', 'printf', 'cd', '.', ':'].includes(program)) return undefined;
  return pathValue.split(':').some((dir) => dir && executable(path.join(dir, program))) ? undefined : `${program} is not on PATH (${pathValue})`;
}

/** SWITCH=command: SWITCH_CMD's and SWITCH_CHECK_CMD's programs can run, and the check passes for the live slot. */
export async function checkSwitchCommand(ctx: CheckContext): Promise<CheckResult> {
  const { config } = ctx;
  const pathValue = ctx.env.PATH ?? '';
  for (const [key, command] of [['SWITCH_CMD', config.command.switchCmd], ['SWITCH_CHECK_CMD', config.command.checkCmd]] as const) {
    const program = commandProgram(command);
    if (!program) continue;
    const problem = programProblem(program, pathValue, path.dirname(config.envFile));
    if (problem) return fail(`${key} cannot run: ${problem}`, `install the program or fix ${key} in ${config.envFile} (templates/haproxy/ has an example)`);
  }
  if (!config.command.checkCmd.trim()) return pass(`SWITCH_CMD's program ${commandProgram(config.command.switchCmd)} can run; no SWITCH_CHECK_CMD, so nothing confirms a switch (set one: see templates/haproxy/check.sh)`);
  const state = loadState(config.deployRoot, config.appName, config.ports);
  if (!state.live) return pass('SWITCH_CMD and SWITCH_CHECK_CMD can run; nothing is live yet to check');
  // Read-only: the check for the slot that is live now, with the facts a deploy would give it.
  const env = { ...ctx.env, ...switchCommandEnv(config, state.live, null) };
  const result = await probeShell(config.command.checkCmd, { env, timeoutMs: 10_000 });
  if (result.exitCode === 0) return pass(`SWITCH_CHECK_CMD confirms traffic reaches live slot ${state.live} (port ${config.ports[state.live]})`);
  const last = `${result.stderr}\n${result.stdout}`.trim().split('\n').filter(Boolean).slice(-2).join(' | ') || result.error || `exit code ${result.exitCode}`;
  return fail(`SWITCH_CHECK_CMD fails for live slot ${state.live} (port ${config.ports[state.live]}): ${result.timedOut ? 'did not finish within 10s' : last}`, `send traffic back to the live slot with SWITCHYARD_SLOT=${state.live} SWITCHYARD_PORT=${config.ports[state.live]} SWITCHYARD_PORTS=${config.ports[state.live]} SWITCHYARD_APP_NAME=${config.appName} ${config.command.switchCmd}; if the check still fails, fix the load balancer or the check`);
}
