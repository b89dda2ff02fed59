import { createInterface } from 'node:readline';
import { describeArgv, loadExeca } from './run.ts';
import { isGroupAlive, signalGroup } from './process.ts';

/**
 * A command we talk to while it runs (the fleet's session on a host, over ssh): lines written to its
 * stdin, each line of its stdout and stderr handed over as it arrives. In its own process group, as
 * every command of run.ts: an operator's Ctrl-C at the terminal reaches us, never it.
 */

export type PipedCommand = {
  /** One line to its stdin; false once its stdin is closed (it exited, or end() was called). */
  send(line: string): boolean;
  /** Close its stdin: the command's sign that nobody will ask anything more. */
  end(): void;
  /** Its whole process group, at once. */
  kill(): void;
  /** Its exit code (255 for none: it could not start or a signal ended it), with why in words when it did not exit by itself. */
  exited: Promise<{ exitCode: number; why?: string }>;
};

export async function startPiped(
  argv: readonly string[],
  options: { env: Record<string, string | undefined>; onLine: (line: string, from: 'stdout' | 'stderr') => void },
): Promise<PipedCommand> {
  const [file, ...args] = argv;
  const execa = await loadExeca();
  const subprocess = execa(file, args, {
    env: options.env,
    extendEnv: false,
    stdin: 'pipe',
    detached: true,
    buffer: false,
    reject: false,
    cleanup: false,
  });
  let open = true;
  const input = subprocess.stdin!;
  // A write after its end (EPIPE) is the exit we hear of through `exited`.
  input.on('error', () => {
    open = false;
  });
  const lines = [subprocess.stdout!, subprocess.stderr!].map((stream, index) => new Promise<void>((resolve) => {
    const reader = createInterface({ input: stream, crlfDelay: Infinity });
    reader.on('line', (line) => options.onLine(line, index === 0 ? 'stdout' : 'stderr'));
    reader.on('close', resolve);
  }));
  const exited = (async () => {
    const result = await subprocess;
    await Promise.all(lines);
    open = false;
    if (typeof result.exitCode === 'number') return { exitCode: result.exitCode };
    const why = result.signal ? `\`${describeArgv(argv)}\` was killed by ${result.signal}` : `\`${describeArgv(argv)}\` could not run (${(result.cause as Error | undefined)?.message ?? result.code ?? 'unknown error'})`;
    return { exitCode: 255, why };
  })();
  return {
    send: (line) => {
      if (!open || input.destroyed || input.writableEnded) return false;
      input.write(`${line}\n`);
      return true;
    },
    end: () => {
      open = false;
      if (!input.writableEnded) input.end();
    },
    kill: () => {
      if (subprocess.pid && isGroupAlive(subprocess.pid)) signalGroup(subprocess.pid, 'SIGKILL');
    },
    exited,
  };
}
