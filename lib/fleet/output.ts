import { redact, redactValue } from '../config/redact.ts';
import type { HostEvent } from './events.ts';

/**
 * The controller's lines: text for a person, or (--json) one JSON event per line, each host's carrying
 * "host". Every line is redacted on its way out with the secrets the command announced (its FLEET_
 * keys, lib/config/redact.ts): nothing here needs to know which strings hold one.
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
};

export function createOutput(options: { json: boolean; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream }): FleetOutput {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const write = (stream: NodeJS.WritableStream, text: string) => stream.write(`${redact(text)}\n`);
  const event = (fields: Record<string, unknown>) => stdout.write(`${JSON.stringify(redactValue({ at: new Date().toISOString(), ...fields }))}\n`);
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
    document: (value) => stdout.write(`${JSON.stringify(redactValue(value), null, 2)}\n`),
  };
}
