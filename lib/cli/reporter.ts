import { formatDuration } from '../config/duration.ts';
import { announceSecrets, redact, redactValue } from '../config/redact.ts';

/** Step lines with durations: colour on a TTY, plain text in SSH sessions, hooks and logs. */

export type OutputOptions = {
  color: boolean;
  /** One JSON object per line on stdout (step, output, warning, error, success events) instead of text. */
  json?: boolean;
  stream?: NodeJS.WritableStream;
  errorStream?: NodeJS.WritableStream;
  secrets?: string[];
  /** Also receives every line, redacted and without colour (the deploy's own log under DEPLOY_ROOT). */
  tee?: (line: string) => void;
};

export type Step = {
  /** Mark the step done; prints its one line with the duration. */
  done(detail?: string): number;
  fail(detail?: string): number;
  /** A sign of life for a long step. */
  progress(message: string): void;
};

const COLORS = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;

export class Reporter {
  private readonly color: boolean;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  private readonly secrets: string[];
  private readonly json: boolean;
  private tee?: (line: string) => void;

  constructor(options: OutputOptions) {
    this.json = options.json ?? false;
    this.color = options.color && !this.json;
    this.out = options.stream ?? process.stdout;
    this.err = options.errorStream ?? process.stderr;
    this.secrets = options.secrets ?? [];
    this.tee = options.tee;
    // The state file and hook environments are written by code that never sees the config: they redact the same values.
    announceSecrets(this.secrets);
    // An SSH session that went away makes writes fail asynchronously (EPIPE): the deploy must go on.
    for (const stream of [this.out, this.err]) if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
  }

  private paint(color: keyof typeof COLORS, text: string): string {
    return this.color ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
  }

  redact(text: string): string {
    return redact(text, this.secrets);
  }

  /** A whole JSON document on stdout (`status --json`, `history --json`), every string in it redacted. */
  document(value: unknown): void {
    this.write(this.out, JSON.stringify(redactValue(value, this.secrets), null, 2));
  }

  /** From now on every line also goes to `sink` (redacted, no colour codes), whatever happens to the terminal. */
  teeTo(sink: (line: string) => void): void {
    this.tee = sink;
  }

  /**
   * Returns a promise when the stream's buffer is full, so a flood of build output waits instead of
   * piling up in memory. A stream that is gone (SSH hang-up: EPIPE, EIO) is skipped, never waited on:
   * a destroyed stream emits neither 'drain' nor 'error' again.
   */
  private write(stream: NodeJS.WritableStream, line: string): Promise<void> | undefined {
    const text = this.redact(line);
    if (this.tee) {
      try {
        this.tee(text.replace(/\x1b\[[0-9;]*m/g, ''));
      } catch {
        // The log is a copy: a full disk must not stop the deploy it records.
      }
    }
    const writable = stream as NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean };
    if (writable.destroyed || writable.writableEnded) return undefined;
    try {
      if (stream.write(`${text}\n`)) return undefined;
      if (writable.destroyed) return undefined;
      return new Promise((resolve) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          stream.off('close', done);
          resolve();
        };
        stream.once('drain', done);
        stream.once('error', done);
        stream.once('close', done);
      });
    } catch {
      // The terminal went away (SSH hang-up); the deploy goes on and the log keeps the record.
      return undefined;
    }
  }

  private event(fields: Record<string, unknown>): void {
    this.write(this.out, JSON.stringify({ at: new Date().toISOString(), ...fields }));
  }

  info(message: string): void {
    if (this.json) this.event({ event: 'info', message });
    else this.write(this.out, message);
  }

  warn(message: string): void {
    if (this.json) this.event({ event: 'warning', message });
    else this.write(this.err, `${this.paint('yellow', 'warning:')} ${message}`);
  }

  error(message: string, details: string[] = []): void {
    if (this.json) this.event({ event: 'error', message, details });
    this.write(this.err, `${this.paint('red', 'error:')} ${message}`);
    for (const line of details) this.write(this.err, `  ${this.paint('dim', '│')} ${line}`);
  }

  /** A line of a child command's output, indented under its step; resolves once the terminal can take more. */
  output(label: string, line: string): Promise<void> | undefined {
    if (this.json) return this.write(this.out, JSON.stringify({ at: new Date().toISOString(), event: 'output', step: label, line }));
    return this.write(this.out, `  ${this.paint('dim', `${label} │`)} ${line}`);
  }

  success(message: string): void {
    if (this.json) this.event({ event: 'success', message });
    else this.write(this.out, `${this.paint('green', '✔')} ${this.paint('bold', message)}`);
  }

  step(name: string): Step {
    const started = Date.now();
    const line = (mark: string, detail: string | undefined, elapsed: number) =>
      `${mark} ${name.padEnd(9)} ${detail ?? ''}${detail ? ' ' : ''}${this.paint('dim', `(${formatDuration(elapsed)})`)}`;
    return {
      done: (detail) => {
        const elapsed = Date.now() - started;
        if (this.json) this.event({ event: 'step', step: name, ok: true, ms: elapsed, detail });
        else this.write(this.out, line(this.paint('green', this.color ? '✓' : 'ok'), detail, elapsed));
        return elapsed;
      },
      fail: (detail) => {
        const elapsed = Date.now() - started;
        if (this.json) this.event({ event: 'step', step: name, ok: false, ms: elapsed, detail });
        else this.write(this.err, line(this.paint('red', this.color ? '✗' : 'FAILED'), detail, elapsed));
        return elapsed;
      },
      progress: (message) => {
        if (this.json) this.event({ event: 'progress', step: name, message, ms: Date.now() - started });
        else this.write(this.out, `  ${this.paint('dim', `${name} …`)} ${message} ${this.paint('dim', `(${formatDuration(Date.now() - started)})`)}`);
      },
    };
  }
}

/** Colour only for a terminal that wants it: NO_COLOR and --no-color win. */
export function wantsColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, argv: readonly string[]): boolean {
  if (argv.includes('--')) argv = argv.slice(0, argv.indexOf('--'));
  if (argv.includes('--no-color') || env.NO_COLOR !== undefined || env.TERM === 'dumb') return false;
  if (argv.includes('--color') || env.FORCE_COLOR) return true;
  return Boolean(stream.isTTY);
}
