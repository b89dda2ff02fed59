import type { HostEvent } from './events.ts';

/** The controller's lines: text for a person, or (--json) one JSON event per line, each host's carrying "host". */

export type FleetOutput = {
  json: boolean;
  info(message: string, host?: string): void;
  warn(message: string, host?: string): void;
  error(message: string, details?: string[]): void;
  success(message: string): void;
  /** An event of a host's own --json output, passed on with the host. */
  hostEvent(host: string, event: HostEvent): void;
  /** A whole JSON document (status --json, history --json). */
  document(value: unknown): void;
};

export function createOutput(options: { json: boolean; stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream }): FleetOutput {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const event = (fields: Record<string, unknown>) => stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...fields })}\n`);
  const prefix = (host?: string) => (host ? `${host} │ ` : '');
  return {
    json: options.json,
    info: (message, host) => (options.json ? event({ event: 'info', ...(host ? { host } : {}), message }) : stdout.write(`${prefix(host)}${message}\n`)),
    warn: (message, host) => (options.json ? event({ event: 'warning', ...(host ? { host } : {}), message }) : stderr.write(`warning: ${prefix(host)}${message}\n`)),
    error(message, details = []) {
      if (options.json) event({ event: 'error', message, details });
      stderr.write(`error: ${message}\n${details.map((line) => `  │ ${line}\n`).join('')}`);
    },
    success: (message) => (options.json ? event({ event: 'success', message }) : stdout.write(`✔ ${message}\n`)),
    hostEvent(host, hostEvent) {
      if (options.json) return void event({ ...hostEvent, at: hostEvent.at ?? new Date().toISOString(), host });
      const text =
        hostEvent.event === 'step' ? `${hostEvent.ok ? 'ok' : 'FAILED'} ${String(hostEvent.step).padEnd(9)} ${hostEvent.detail ?? ''}`
        : hostEvent.event === 'output' ? `  ${hostEvent.step} │ ${hostEvent.line}`
        : hostEvent.event === 'warning' ? `warning: ${hostEvent.message}`
        : hostEvent.event === 'success' ? `✔ ${hostEvent.message}`
        : hostEvent.event === 'error' ? `error: ${hostEvent.message}`
        : hostEvent.event === 'progress' ? `  ${hostEvent.step} … ${hostEvent.message}`
        : String(hostEvent.message ?? '');
      stdout.write(`${prefix(host)}${text}\n`);
    },
    document: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}
