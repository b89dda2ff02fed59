import { parseDuration } from './duration.ts';

/** The judging keys (CANARY_*, BAKE_CHECK_CMD, TRAFFIC_LOG_PORT) turned into numbers, every problem named. Pure. */

export type InconclusivePolicy = 'hold' | 'promote' | 'rollback';
export const INCONCLUSIVE_POLICIES: readonly InconclusivePolicy[] = ['hold', 'promote', 'rollback'];

export type JudgeSettings = {
  /** CANARY_INTERVAL: the length of one judged window. */
  intervalMs: number;
  maxErrorRate: number;
  minErrors: number;
  minRequests: number;
  p99Factor: number;
  p99SlackMs: number;
  failedWindows: number;
  inconclusive: InconclusivePolicy;
  inconclusiveWindows: number;
  /** BAKE_CHECK_CMD, run by /bin/sh as written; empty when unset. */
  bakeCheckCmd: string;
  /** TRAFFIC_LOG_PORT: UDP on 127.0.0.1, where the site's access_log sends its lines. */
  logPort: number;
};

/** `1%` or `0.01` as a fraction of 1; undefined when it is neither. */
export function parseRate(text: string): number | undefined {
  const percent = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  const rate = percent ? Number(percent[1]) / 100 : /^\s*(0(?:\.\d+)?|1(?:\.0+)?)\s*$/.test(text) ? Number(text) : NaN;
  return rate >= 0 && rate <= 1 ? rate : undefined;
}

export function parseJudgeSettings(value: (key: string) => string, portA: number, problems: string[]): JudgeSettings {
  const whole = (key: string, min: number): number => {
    const text = value(key);
    const parsed = /^\d{1,6}$/.test(text.trim()) ? Number(text) : NaN;
    if (!(parsed >= min)) problems.push(`${key} must be a whole number of at least ${min}; got ${JSON.stringify(text)}`);
    return parsed;
  };
  const duration = (key: string, min: number): number => {
    const ms = parseDuration(value(key));
    if (ms === undefined || ms < min) problems.push(`${key} must be a duration such as 10s or 500ms${min > 0 ? ` of at least ${min}ms` : ''}; got ${JSON.stringify(value(key))}`);
    return ms ?? 0;
  };
  const maxErrorRate = parseRate(value('CANARY_MAX_ERROR_RATE'));
  if (maxErrorRate === undefined) problems.push(`CANARY_MAX_ERROR_RATE must be a share such as 1% or 0.01; got ${JSON.stringify(value('CANARY_MAX_ERROR_RATE'))}`);
  const factorText = value('CANARY_P99_FACTOR');
  const p99Factor = /^\s*\d+(\.\d+)?\s*$/.test(factorText) ? Number(factorText) : NaN;
  if (!(p99Factor >= 1)) problems.push(`CANARY_P99_FACTOR must be a number of at least 1 such as 1.5; got ${JSON.stringify(factorText)}`);
  const inconclusive = value('CANARY_INCONCLUSIVE') as InconclusivePolicy;
  if (!INCONCLUSIVE_POLICIES.includes(inconclusive)) problems.push(`CANARY_INCONCLUSIVE must be ${INCONCLUSIVE_POLICIES.join(', ')}; got ${JSON.stringify(inconclusive)}`);
  const portText = value('TRAFFIC_LOG_PORT');
  const logPort = portText === '<PORT_A>' ? portA : /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(logPort >= 1 && logPort <= 65535)) problems.push(`TRAFFIC_LOG_PORT must be a port number 1-65535; got ${JSON.stringify(portText)}`);
  return {
    // Under a second, a window holds too few requests to judge anything; nginx's own buffering is none (syslog).
    intervalMs: duration('CANARY_INTERVAL', 1000),
    maxErrorRate: maxErrorRate ?? 0,
    minErrors: whole('CANARY_MIN_ERRORS', 1),
    minRequests: whole('CANARY_MIN_REQUESTS', 1),
    p99Factor,
    p99SlackMs: duration('CANARY_P99_SLACK', 0),
    failedWindows: whole('CANARY_FAILED_WINDOWS', 1),
    inconclusive,
    inconclusiveWindows: whole('CANARY_INCONCLUSIVE_WINDOWS', 1),
    bakeCheckCmd: value('BAKE_CHECK_CMD'),
    logPort,
  };
}
