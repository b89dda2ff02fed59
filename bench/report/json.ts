import type { RequestRecord } from '../../harness/load.ts';
import type { HostInfo } from '../host-info.ts';
import type { Summary } from '../summary.ts';
import type { TargetResult } from '../targets.ts';
import type { StrategyRun, SwitchWindow } from '../types.ts';

/**
 * Every request, column by column, sorted by start: startedAt as ms deltas (the first from the load's
 * start), kind and reused as one character each, status and error only where they are not 200/null,
 * the answering version run-length encoded.
 */
export type CompactRecords = {
  count: number;
  startedAtDeltaMs: number[];
  latencyMs: number[];
  /** f = GET / (fast), p = POST /echo, s = GET /slow */
  kind: string;
  /** 1 = sent on a reused keep-alive socket */
  reused: string;
  /** [index, status] for every status other than 200; 0 = no response */
  statusNot200: [number, number][];
  errors: [number, string][];
  versions: { names: (string | null)[]; runs: [number, number][] };
};

const KIND_CODE = { fast: 'f', post: 'p', slow: 's' } as const;

export function compactRecords(records: RequestRecord[], since: number): CompactRecords {
  const sorted = [...records].sort((a, b) => a.startedAt - b.startedAt);
  const names: (string | null)[] = [];
  const runs: [number, number][] = [];
  const out: CompactRecords = { count: sorted.length, startedAtDeltaMs: [], latencyMs: [], kind: '', reused: '', statusNot200: [], errors: [], versions: { names, runs } };
  let previous = since;
  const kinds: string[] = [];
  const reused: string[] = [];
  sorted.forEach((record, index) => {
    out.startedAtDeltaMs.push(record.startedAt - previous);
    previous = record.startedAt;
    out.latencyMs.push(record.latencyMs);
    kinds.push(KIND_CODE[record.kind]);
    reused.push(record.reused ? '1' : '0');
    if (record.status !== 200) out.statusNot200.push([index, record.status ?? 0]);
    if (record.error !== null) out.errors.push([index, record.error]);
    let name = names.indexOf(record.version);
    if (name === -1) name = names.push(record.version) - 1;
    const last = runs.at(-1);
    if (last && last[0] === name) last[1]++;
    else runs.push([name, 1]);
  });
  out.kind = kinds.join('');
  out.reused = reused.join('');
  return out;
}

/** Window times relative to the load's start, like the records. */
function relativeWindow(window: SwitchWindow, since: number) {
  const rel = (at: number | undefined) => (at === undefined ? undefined : at - since);
  return { ...window, start: window.start - since, end: window.end - since, sigtermAt: rel(window.sigtermAt), exitAt: rel(window.exitAt), marks: window.marks.map((mark) => ({ name: mark.name, at: mark.at - since })) };
}

export function resultsJson(input: { host: HostInfo; args: unknown; load: unknown; timing: unknown; runs: StrategyRun[]; summaries: Summary[]; targets: TargetResult[] }): string {
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
