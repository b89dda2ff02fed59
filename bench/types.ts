import type { LoadOptions, RequestRecord } from '../harness/load.ts';

/** A moment inside a switch window worth a marker in the chart (a step's end, SIGTERM, exit ...). */
export type Mark = { name: string; at: number };

/** One measured cycle: from the command's (or action's) start to its end. */
export type SwitchWindow = {
  cycle: number;
  /** deploy | rollback | restart | swap | reload */
  command: string;
  start: number;
  end: number;
  ok: boolean;
  /** Version served before and after the cycle, when the strategy knows it. */
  fromVersion?: string;
  toVersion?: string;
  /** Durations in ms by phase name (Switchyard: from the --json step events). */
  phases?: Record<string, number>;
  marks: Mark[];
  /** The old version's process: when it got SIGTERM and when it exited (baselines). */
  sigtermAt?: number;
  exitAt?: number;
  error?: string;
  /** switchyard-bake's rollbacks: no process was started (no start step), only a switch. */
  switchOnly?: boolean;
  /** switchyard-bake's rollbacks: median start of `node -e 0` right after, under the same load. */
  nodeStartMs?: number;
};

export type StrategyRun = {
  name: string;
  description: string;
  loadStart: number;
  loadEnd: number;
  records: RequestRecord[];
  windows: SwitchWindow[];
  /** Setup problems, commands that failed, a load that hit its bound early ... */
  problems: string[];
};

/** What a strategy does; the runner wraps it in one load that spans the whole run. */
export type Strategy = {
  name: string;
  description: string;
  /** Another request mix than measure.ts's LOAD (e.g. with slow POSTs). */
  mix?: LoadOptions['mix'];
  /** Start everything up to a serving v1 (not measured); returns the nginx port the load goes to. */
  setUp(): Promise<{ port: number }>;
  /** One measured cycle; returns its window. */
  cycle(index: number): Promise<SwitchWindow>;
  /** Stop everything setUp and the cycles started. Must not throw. */
  tearDown(): Promise<void>;
};
