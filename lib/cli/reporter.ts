import { redactorFor, type Redactor } from '../config/redact.ts';
import type { Event } from './events.ts';
import { asInvoked } from './program-name.ts';
import { jsonFormatter, textFormatter, type Formatter } from './format.ts';

/** The one way a command speaks: every line is an Event, formatted once (text or JSON), redacted, and teed to the deploy log. */

export type OutputOptions = {
  color: boolean;
  /** One JSON object per line on stdout (the Event union, events.ts) instead of text. */
  json?: boolean;
  stream?: NodeJS.WritableStream;
  errorStream?: NodeJS.WritableStream;
  secrets?: string[];
  /** Also receives every line, redacted and without colour (the deploy's own log under DEPLOY_ROOT). */
  tee?: (line: string) => void;
  /** The name the CLI was run as (lib/cli/program-name.ts), put in place of `./deploy.ts` in every line. */
  program?: string;
};

export type Step = {
  /** Mark the step done; prints its one line with the duration. */
  done(detail?: string): number;
  fail(detail?: string): number;
  /** A sign of life for a long step. */
  progress(message: string): void;
};

export class Reporter {
  private readonly format: Formatter;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  /** The config's secrets and URL credentials, hidden in every line; also for writers that print through no reporter (the state file, hooks). */
  readonly redactor: Redactor;
  private readonly program?: string;
  private tee?: (line: string) => void;

  constructor(options: OutputOptions) {
    this.format = options.json ? jsonFormatter() : textFormatter(options.color);
    this.out = options.stream ?? process.stdout;
    this.err = options.errorStream ?? process.stderr;
    this.redactor = redactorFor({ secrets: options.secrets ?? [] });
    this.tee = options.tee;
    this.program = options.program;
    // An SSH session that went away makes writes fail asynchronously (EPIPE): the deploy must go on.
    for (const stream of [this.out, this.err]) if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
  }

  redact(text: string): string {
    return this.redactor.redact(text);
  }

  /** A whole JSON document on stdout (`status --json`, `history --json`), every string in it redacted. */
  document(value: unknown): void {
    this.write(this.out, JSON.stringify(this.redactor.redactValue(value), null, 2));
  }

  /** From now on every line also goes to `sink` (redacted, no colour codes), whatever happens to the terminal. */
  teeTo(sink: (line: string) => void): void {
    this.tee = sink;
  }

  /** Formats and writes one event; resolves once the terminal can take more (see write). */
  emit(event: Event): Promise<void> | undefined {
    let waiting: Promise<void> | undefined;
    for (const line of this.format(event, new Date())) waiting = this.write(line.to === 'out' ? this.out : this.err, line.text) ?? waiting;
    return waiting;
  }

  info(message: string): void {
    this.emit({ event: 'info', message });
  }

  warn(message: string): void {
    this.emit({ event: 'warning', message });
  }

  error(message: string, details: string[] = []): void {
    this.emit({ event: 'error', message, details });
  }

  /** A line of a child command's output, indented under its step; resolves once the terminal can take more. */
  output(label: string, line: string): Promise<void> | undefined {
    return this.emit({ event: 'output', step: label, line });
  }

  success(message: string): void {
    this.emit({ event: 'success', message });
  }

  /** The dry run: its first line, then one plan event per step the command would run. */
  plan(summary: string, steps: readonly { name: string; what: string }[]): void {
    this.info(summary);
    for (const step of steps) this.emit({ event: 'plan', step: step.name, what: step.what });
  }

  step(name: string): Step {
    const started = Date.now();
    const end = (ok: boolean, detail: string | undefined) => {
      const ms = Date.now() - started;
      this.emit({ event: 'step', step: name, ok, ms, detail });
      return ms;
    };
    return {
      done: (detail) => end(true, detail),
      fail: (detail) => end(false, detail),
      progress: (message) => this.emit({ event: 'progress', step: name, message, ms: Date.now() - started }),
    };
  }

  /**
   * Returns a promise when the stream's buffer is full, so a flood of build output waits instead of
   * piling up in memory. A stream that is gone (SSH hang-up: EPIPE, EIO) is skipped, never waited on:
   * a destroyed stream emits neither 'drain' nor 'error' again.
   */
  private write(stream: NodeJS.WritableStream, line: string): Promise<void> | undefined {
    const text = this.redact(asInvoked(line, this.program));
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
}

/** Colour only for a terminal that wants it: NO_COLOR and --no-color win. */
export function wantsColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, argv: readonly string[]): boolean {
  if (argv.includes('--')) argv = argv.slice(0, argv.indexOf('--'));
  if (argv.includes('--no-color') || env.NO_COLOR !== undefined || env.TERM === 'dumb') return false;
  if (argv.includes('--color') || env.FORCE_COLOR) return true;
  return Boolean(stream.isTTY);
}
