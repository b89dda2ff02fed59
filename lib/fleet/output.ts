import { URL_CREDENTIALS_ONLY, type Redactor } from '../config/redact.ts';
import type { HostEvent } from './events.ts';

/**
 * The controller's lines: text for a person, or (--json) one JSON event per line, each host's carrying
 * "host". Every line is redacted on its way out with the redactor the command hands in once its config
 * is loaded (its FLEET_ keys, lib/config/redact.ts): nothing here needs to know which strings hold one.
 */

export type FleetOutput = {
  json: boolean;
  info(message: string, host?: string): void;
  warn(message: string, host?: string): void;
  error(message: string, details?: string[]): void;
  success(message: string): void;
  /** A line of a controller-side command's output (FLEET_CHECK_CMD, FLEET_SWITCH_CMD) under its step. */
  output(step: string, line: string): void;
  /** An event of a host's own --json output, passed on with the host. */
  hostEvent(host: string, event: HostEvent): void;
  /** A whole JSON document (status --json, history --json). */
  document(value: unknown): void;
  /** From now on every line hides what `redactor` hides (the controller's config, once loaded); before it, URL credentials only. */
  redactWith(redactor: Redactor): void;
  /** `text` as this output would print it (for what the controller sends a host). */
  redact(text: string): string;
};

/**
 * `onGone` hears, once, that stdout or stderr can no longer be written (EPIPE, EIO: the operator's SSH
 * session ended); from then on lines are dropped rather than thrown, and the fleet history keeps the record.
 */
export function createOutput(options: {
  json: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  onGone?: (reason: string) => void;
}): FleetOutput {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  let redactor = URL_CREDENTIALS_ONLY;
  let gone = false;
  const lost = (error: unknown) => {
    if (gone) return;
    gone = true;
    options.onGone?.(`the end of the session (its output is closed: ${(error as NodeJS.ErrnoException)?.code ?? String(error)})`);
  };
  for (const stream of [stdout, stderr] as NodeJS.EventEmitter[]) stream.on('error', lost);
  const put = (stream: NodeJS.WritableStream, text: string) => {
    if (gone) return;
    try {
      stream.write(text);
    } catch (error) {
      lost(error);
    }
  };
  const write = (stream: NodeJS.WritableStream, text: string) => put(stream, `${redactor.redact(text)}\n`);
  const event = (fields: Record<string, unknown>) => put(stdout, `${JSON.stringify(redactor.redactValue({ at: new Date().toISOString(), ...fields }))}\n`);
  const prefix = (host?: string) => (host ? `${host} │ ` : '');
  return {
    json: options.json,
    info: (message, host) => (options.json ? event({ event: 'info', ...(host ? { host } : {}), message }) : write(stdout, `${prefix(host)}${message}`)),
    warn: (message, host) => (options.json ? event({ event: 'warning', ...(host ? { host } : {}), message }) : write(stderr, `warning: ${prefix(host)}${message}`)),
    error(message, details = []) {
      if (options.json) event({ event: 'error', message, details });
      write(stderr, [`error: ${message}`, ...details.map((line) => `  │ ${line}`)].join('\n'));
    },
    success: (message) => (options.json ? event({ event: 'success', message }) : write(stdout, `✔ ${message}`)),
    output: (step, line) => (options.json ? event({ event: 'output', step, line }) : write(stdout, `  ${step} │ ${line}`)),
    hostEvent(host, hostEvent) {
      if (options.json) return void event({ ...hostEvent, at: hostEvent.at ?? new Date().toISOString(), host });
      const text =
        hostEvent.event === 'step' ? `${hostEvent.ok ? 'ok' : 'FAILED'} ${String(hostEvent.step).padEnd(9)} ${hostEvent.detail ?? ''}`
        : hostEvent.event === 'output' ? `  ${hostEvent.step} │ ${hostEvent.line}`
        : hostEvent.event === 'plan' ? `    ${String(hostEvent.step).padEnd(18)} ${hostEvent.what ?? ''}`
        : hostEvent.event === 'warning' ? `warning: ${hostEvent.message}`
        : hostEvent.event === 'success' ? `✔ ${hostEvent.message}`
        : hostEvent.event === 'error' ? `error: ${hostEvent.message}`
        : hostEvent.event === 'progress' ? `  ${hostEvent.step} … ${hostEvent.message}`
        : String(hostEvent.message ?? '');
      write(stdout, `${prefix(host)}${text}`);
    },
    document: (value) => put(stdout, `${JSON.stringify(redactor.redactValue(value), null, 2)}\n`),
    redactWith(given) {
      redactor = given;
    },
    redact: (text) => redactor.redact(text),
  };
}
