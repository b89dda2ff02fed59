import type { RequestRecord } from '../../harness/load.ts';
import type { HostInfo } from '../host-info.ts';
import type { Summary } from '../summary.ts';
import type { TargetResult } from '../targets.ts';
import type { StrategyRun, SwitchWindow } from '../types.ts';

/**
 * Every request, column by column, sorted by start: startedAt as ms deltas (the first from the load's
 * start), then one character per request for kind, reused socket and outcome; the answering version
 * run-length encoded.
 */
export type CompactRecords = {
  count: number;
  startedAtDeltaMs: number[];
  latencyMs: number[];
  /** f = GET / (fast), p = POST /echo, s = GET /slow */
  kind: string;
  /** 1 = sent on a keep-alive socket that had carried an earlier request */
  reused: string;
  /** "." = HTTP 200; any other character indexes outcomes.names (the record's error: "HTTP 502", "ECONNRESET" ...) */
  outcome: string;
  outcomes: { codes: string; names: string[] };
  versions: { names: (string | null)[]; runs: [number, number][] };
};

const KIND_CODE = { fast: 'f', post: 'p', slow: 's', slowpost: 'P' } as const;
/** Printable, JSON-safe characters for outcome codes; more kinds of error than this share the last. */
const OUTCOME_CODES = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function compactRecords(records: RequestRecord[], since: number): CompactRecords {
  const sorted = [...records].sort((a, b) => a.startedAt - b.startedAt);
  const versionNames: (string | null)[] = [];
  const runs: [number, number][] = [];
  const outcomeNames: string[] = [];
  const startedAtDeltaMs: number[] = [];
  const latencyMs: number[] = [];
  const kind: string[] = [];
  const reused: string[] = [];
  const outcome: string[] = [];
  let previous = since;
  for (const record of sorted) {
    startedAtDeltaMs.push(record.startedAt - previous);
    previous = record.startedAt;
    latencyMs.push(record.latencyMs);
    kind.push(KIND_CODE[record.kind]);
    reused.push(record.reused ? '1' : '0');
    if (record.error === null) outcome.push('.');
    else {
      let code = outcomeNames.indexOf(record.error);
      if (code === -1 && outcomeNames.length < OUTCOME_CODES.length) code = outcomeNames.push(record.error) - 1;
      outcome.push(OUTCOME_CODES[code === -1 ? OUTCOME_CODES.length - 1 : code]);
    }
    let name = versionNames.indexOf(record.version);
    if (name === -1) name = versionNames.push(record.version) - 1;
    const last = runs.at(-1);
    if (last && last[0] === name) last[1]++;
    else runs.push([name, 1]);
  }
  return {
    count: sorted.length,
    startedAtDeltaMs,
    latencyMs,
    kind: kind.join(''),
    reused: reused.join(''),
    outcome: outcome.join(''),
    outcomes: { codes: OUTCOME_CODES.slice(0, outcomeNames.length), names: outcomeNames },
    versions: { names: versionNames, runs },
  };
}

/** Window times relative to the load's start, like the records. */
function relativeWindow(window: SwitchWindow, since: number) {
  const rel = (at: number | undefined) => (at === undefined ? undefined : at - since);
  return {
    ...window,
    start: window.start - since,
    end: window.end - since,
    sigtermAt: rel(window.sigtermAt),
    exitAt: rel(window.exitAt),
    marks: window.marks.map((mark) => ({ name: mark.name, at: mark.at - since })),
  };
}

export function resultsJson(input: {
  host: HostInfo;
  args: unknown;
  load: unknown;
  timing: unknown;
  runs: StrategyRun[];
  summaries: Summary[];
  targets: TargetResult[];
}): string {
  const document = {
    about: 'Switchyard benchmark (npm run bench). Times in ms; window and record times are relative to each strategy\'s loadStart (epoch ms). See CompactRecords in bench/report/json.ts.',
    host: input.host,
    args: input.args,
    load: input.load,
    timing: input.timing,
    targets: input.targets,
    strategies: input.runs.map((run, i) => ({
      name: run.name,
      description: run.description,
      loadStart: run.loadStart,
      loadDurationMs: run.loadEnd - run.loadStart,
      problems: run.problems,
      summary: input.summaries[i],
      windows: run.windows.map((window) => relativeWindow(window, run.loadStart)),
      requests: `@@requests:${i}@@`,
    })),
  };
  // Readable indentation for everything but the request columns, which stay on one line each.
  return (
    JSON.stringify(document, null, 2).replace(/"@@requests:(\d+)@@"/g, (_, i) => {
      const run = input.runs[Number(i)];
      return JSON.stringify(compactRecords(run.records, run.loadStart));
    }) + '\n'
  );
}

/** The inverse of compactRecords (used by bench/replot.ts). */
export function expandRecords(compact: CompactRecords, since: number): RequestRecord[] {
  const kinds = { f: 'fast', p: 'post', s: 'slow', P: 'slowpost' } as const;
  const versions: (string | null)[] = compact.versions.runs.flatMap(([name, count]) =>
    Array<string | null>(count).fill(compact.versions.names[name]),
  );
  const records: RequestRecord[] = [];
  let startedAt = since;
  for (let i = 0; i < compact.count; i++) {
    startedAt += compact.startedAtDeltaMs[i];
    const kind = kinds[compact.kind[i] as keyof typeof kinds];
    const code = compact.outcome[i];
    const error = code === '.' ? null : compact.outcomes.names[compact.outcomes.codes.indexOf(code)];
    const status = error === null ? 200 : /^HTTP (\d+)$/.exec(error) ? Number(error.slice(5)) : null;
    records.push({ id: String(i), kind, method: kind === 'post' || kind === 'slowpost' ? 'POST' : 'GET', startedAt, latencyMs: compact.latencyMs[i], status, error, reused: compact.reused[i] === '1', version: versions[i] });
  }
  return records;
}
