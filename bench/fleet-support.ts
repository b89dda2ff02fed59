import { readFileSync } from 'node:fs';
import { execa } from 'execa';

/** What the fleet bench's parts share: one timed command, the controller's CPU, medians. */

export type CommandResult = { exitCode: number; output: string };
export type Timed = (what: string, run: () => Promise<CommandResult>, expectExit?: number) => Promise<number>;
export type FleetRun = (args: string[], env?: Record<string, string>) => () => Promise<CommandResult>;

/** A command's line as it arrived, `at` on performance.now()'s clock. */
export type TimedLine = { at: number; line: string };

/** Seconds of `run`, printed; a command that does not end as expected stops the bench with its output. */
export const timed: Timed = async (what, run, expectExit = 0) => {
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  if (result.exitCode !== expectExit) throw new Error(`${what}: exit ${result.exitCode}, expected ${expectExit}:\n${result.output.slice(-3000)}`);
  process.stdout.write(`${what}: ${seconds.toFixed(2)} s\n`);
  return seconds;
};

/** `./deploy.ts fleet ...` on this machine (the controller) with the env file `envFile`; each stdout line kept with when it came. */
export function fleetCommand(deployTs: string, envFile: string, onLine?: (line: TimedLine) => void): FleetRun {
  return (args, env = {}) => async () => {
    const child = execa(deployTs, ['fleet', ...args], { env: { DEPLOY_ENV_FILE: envFile, NO_COLOR: '1', ...env }, reject: false, all: true, timeout: 300_000 });
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const at = performance.now();
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) onLine?.({ at, line });
    });
    const result = await child;
    return { exitCode: result.exitCode ?? -1, output: result.all ?? '' };
  };
}

/**
 * CPU-seconds (user + system) of this process's children that have ended (/proc/self/stat cutime,
 * cstime): taken around one command, what it and the processes it waited for (its ssh clients) used.
 * A ControlPersist master detaches, so its share is not in it.
 */
export function endedChildrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of proc(5), counted from the state (field 3) here; in clock ticks of 1/100 s.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** "median (min-max)" in seconds, two decimals. */
export function medianText(values: number[]): string {
  if (values.length === 0) return 'not seen';
  if (values.length === 1) return values[0].toFixed(2);
  return `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;
}

/** The batches that had switched when the last host, alone in the last batch, failed. Pure. */
export function batchesBefore(size: number, batch: string): number {
  const width = batch.endsWith('%') ? Math.ceil((size * Number(batch.slice(0, -1))) / 100) : Number(batch);
  return Math.ceil((size - 1) / width);
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
