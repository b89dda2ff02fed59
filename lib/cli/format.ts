import { formatDuration } from '../config/duration.ts';
import type { Event } from './events.ts';

/** Where a formatted line goes. */
export type Line = { to: 'out' | 'err'; text: string };
export type Formatter = (event: Event, at: Date) => Line[];

const COLORS = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;
type Paint = (color: keyof typeof COLORS, text: string) => string;

/** For people: step lines with durations, output indented under its step, errors on stderr; colour on a TTY only. */
export function textFormatter(color: boolean): Formatter {
  const paint: Paint = (name, text) => (color ? `\x1b[${COLORS[name]}m${text}\x1b[0m` : text);
  const stepLine = (mark: string, name: string, detail: string | undefined, ms: number) => `${mark} ${name.padEnd(9)} ${detail ?? ''}${detail ? ' ' : ''}${paint('dim', `(${formatDuration(ms)})`)}`;
  return (event) => {
    switch (event.event) {
      case 'step':
        return event.ok
          ? [{ to: 'out', text: stepLine(paint('green', color ? '✓' : 'ok'), event.step, event.detail, event.ms) }]
          : [{ to: 'err', text: stepLine(paint('red', color ? '✗' : 'FAILED'), event.step, event.detail, event.ms) }];
      case 'progress':
        return [{ to: 'out', text: `  ${paint('dim', `${event.step} …`)} ${event.message} ${paint('dim', `(${formatDuration(event.ms)})`)}` }];
      case 'output':
        return [{ to: 'out', text: `  ${paint('dim', `${event.step} │`)} ${event.line}` }];
      case 'info':
        return [{ to: 'out', text: event.message }];
      case 'warning':
        return [{ to: 'err', text: `${paint('yellow', 'warning:')} ${event.message}` }];
      case 'error':
        return [{ to: 'err', text: `${paint('red', 'error:')} ${event.message}` }, ...event.details.map((line): Line => ({ to: 'err', text: `  ${paint('dim', '│')} ${line}` }))];
      case 'success':
        return [{ to: 'out', text: `${paint('green', '✔')} ${paint('bold', event.message)}` }];
      case 'plan':
        return [{ to: 'out', text: `  ${event.step.padEnd(18)} ${event.what}` }];
    }
  };
}

/** For scripts: one JSON object per line on stdout; an error is also told in words on stderr, for whoever watches it. */
export function jsonFormatter(): Formatter {
  const text = textFormatter(false);
  return (event, at) => {
    const line: Line = { to: 'out', text: JSON.stringify({ at: at.toISOString(), ...event }) };
    return event.event === 'error' ? [line, ...text(event, at)] : [line];
  };
}
