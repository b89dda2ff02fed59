/**
 * Everything a command tells its operator, as data: the text formatter prints it for people, the
 * JSON formatter one object per line for scripts (the bench, the fleet layer, CI). `parseEvents`
 * reads the JSON form back.
 */
export type Event =
  /** A step of the table (or a hook) ended: its one line, with how long it took. */
  | { event: 'step'; step: string; ok: boolean; ms: number; detail?: string }
  /** A sign of life from a long step. */
  | { event: 'progress'; step: string; message: string; ms: number }
  /** A line of a child command's output (install, build, a hook), under its step. */
  | { event: 'output'; step: string; line: string }
  | { event: 'info'; message: string }
  | { event: 'warning'; message: string }
  | { event: 'error'; message: string; details: string[] }
  | { event: 'success'; message: string }
  /** A step the dry run says the command would run, named as the run names its step event. */
  | { event: 'plan'; step: string; what: string };

export type EventName = Event['event'];

/** An event as the JSON form carries it: when it happened, and (from the fleet layer) on which host. */
export type Stamped<E extends Event = Event> = E & { at: string; host?: string };

/** The JSON events in a command's stdout (other lines are skipped). */
export function parseEvents(stdout: string): Stamped[] {
  const events: Stamped[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value = JSON.parse(line);
      if (value && typeof value.event === 'string') events.push(value);
    } catch {
      // not an event line
    }
  }
  return events;
}
