/** The one operator-facing failure: what failed, what was left as it was, what to do next. */
/** How a command Switchyard ran ended, as data (execa's exitCode, signal, timedOut, isCanceled): read this, never the message. */
export type CommandEnd = { exitCode: number | null; signal: string | null; timedOut: boolean; canceled: boolean };

export class SwitchyardError extends Error {
  /** Set when the failure is a command that ran and failed (lib/host/run.ts). */
  readonly command?: CommandEnd;
  readonly untouched?: string;
  readonly next?: string;
  /** Last lines of a log or command output, shown under the one-line message. */
  readonly details: string[];
  readonly exitCode: number;

  constructor(
    message: string,
    options: { untouched?: string; next?: string; details?: string[]; cause?: unknown; exitCode?: number; command?: CommandEnd } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'SwitchyardError';
    this.untouched = options.untouched;
    this.next = options.next;
    this.details = options.details ?? [];
    this.exitCode = options.exitCode ?? 1;
    this.command = options.command;
  }

  /** The single line an operator reads first. */
  get line(): string {
    return [this.message, this.untouched, this.next].filter(Boolean).join('; ');
  }
}

export function isSwitchyardError(error: unknown): error is SwitchyardError {
  return error instanceof SwitchyardError;
}

/** Rewrap an error from below with the context of the step that failed. */
export function withContext(
  error: unknown,
  message: string,
  options: { untouched?: string; next?: string } = {},
): SwitchyardError {
  if (error instanceof SwitchyardError) {
    return new SwitchyardError(`${message}: ${error.message}`, {
      untouched: options.untouched ?? error.untouched,
      next: options.next ?? error.next,
      details: error.details,
      cause: error,
      exitCode: error.exitCode,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new SwitchyardError(`${message}: ${reason}`, { ...options, cause: error });
}
