/** What a host's `--json` output says, read line by line as it arrives. Pure. */

import type { Event } from '../cli/events.ts';

type Fields<Name extends Event['event'], Drop extends string = never> = Omit<Extract<Event, { event: Name }>, 'event' | Drop>;
/** Every field an Event (lib/cli/events.ts) may carry, optional: a host's line is read before its kind is known, and a newer host may add some. */
type AnyEventFields = Partial<Fields<'step'> & Fields<'error'> & Fields<'output', 'step'> & Fields<'plan', 'step'>>;

/** A host's event, as the one Event union its deploy.ts prints, read loosely. */
export type HostEvent = { event: Event['event']; at?: string; host?: string } & AnyEventFields & { [key: string]: unknown };

export type EventTracker = {
  /** The event of a JSON line, or undefined for a line that is not one (ssh's own messages). */
  take(line: string): HostEvent | undefined;
  /** The step that failed, or the last one that started. */
  failedStep(): string | undefined;
  errorMessage(): string | undefined;
  /** The last lines, as text: what an operator reads under the one-line failure. */
  tail(count?: number): string[];
};

export function trackEvents(): EventTracker {
  const lines: string[] = [];
  let failed: string | undefined;
  let last: string | undefined;
  let error: string | undefined;
  return {
    take(line) {
      let event: HostEvent | undefined;
      try {
        const parsed = JSON.parse(line);
        event = parsed && typeof parsed === 'object' && typeof parsed.event === 'string' ? parsed : undefined;
      } catch {
        event = undefined;
      }
      if (!event) {
        if (line.trim()) lines.push(line);
      } else {
        if (event.step) last = event.step;
        if (event.event === 'step' && event.ok === false && !failed) failed = event.step;
        if (event.event === 'error' && event.message) error = event.message;
        const text = event.event === 'output' ? `${event.step} │ ${event.line}` : event.event === 'step' ? `${event.ok ? 'ok' : 'FAILED'} ${event.step} ${event.detail ?? ''}`.trim() : event.message;
        if (text) lines.push(text);
      }
      if (lines.length > 50) lines.shift();
      return event;
    },
    failedStep: () => failed ?? last,
    errorMessage: () => error,
    tail: (count = 5) => lines.slice(-count),
  };
}
