import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../lib/config/config.ts';
import { parseRate } from '../lib/config/judge-settings.ts';
import { judgeWindow, parseLogLine, thresholdsFrom, type SlotFigures, type Thresholds } from '../lib/judge/index.ts';
import { emptyTally, figuresOf, percentile, tallied } from '../lib/judge/figures.ts';

/** The pure half of the judgement: nginx's log line, a window's figures, and the verdict on them. */

const T: Thresholds = { maxErrorRate: 0.01, minRequests: 20, minErrors: 3, p99Factor: 1.5, p99SlackMs: 100 };
const figures = (requests: number, errors: number, p99Ms: number | null = 10): SlotFigures => ({
  requests,
  errors,
  p50Ms: p99Ms === null ? null : 2,
  p99Ms,
});

describe('the judging log line', () => {
  it('reads status, the answering slot and its time, also after a retry on the other server', () => {
    expect(parseLogLine('<190>Dec  6 02:11:37 switchyard_app: j1 200 0.013 0.012 @ 127.0.0.1:3002')).toEqual({ address: '127.0.0.1:3002', status: 200, upstreamMs: 12 });
    expect(parseLogLine('<190>Dec  6 02:11:37 switchyard_app: j1 500 0.010 0.001, 0.004 @ 127.0.0.1:3001, 127.0.0.1:3002')).toEqual({ address: '127.0.0.1:3002', status: 500, upstreamMs: 4 });
    expect(parseLogLine('<190>Dec  6 02:11:37 x: j1 502 0.001 - @ unix:/srv/my app/sockets/b1.sock')).toEqual({ address: 'unix:/srv/my app/sockets/b1.sock', status: 502, upstreamMs: null });
    expect(parseLogLine('<190>Dec  6 02:11:37 x: j1 502 0.001 0.000 : - @ 127.0.0.1:3001 : 127.0.0.1:3002')).toMatchObject({ address: '127.0.0.1:3002', upstreamMs: null });
  });

  it('ignores what is not one of its lines: another format, a request nginx answered alone', () => {
    expect(parseLogLine('<190>Dec  6 02:11:37 x: 127.0.0.1 - - "GET / HTTP/1.1" 200')).toBeUndefined();
    expect(parseLogLine('<190>Dec  6 02:11:37 x: j1 404 0.000 - @ -')).toBeUndefined();
    expect(parseLogLine('')).toBeUndefined();
  });
});

describe("a window's figures", () => {
  it('counts requests and 5xx, and takes nearest-rank p50 and p99 of the latencies', () => {
    const tally = emptyTally();
    for (let i = 1; i <= 200; i++) tallied(tally, i % 10 === 0 ? 502 : 200, i);
    tallied(tally, 504, null);
    expect(figuresOf(tally)).toEqual({ requests: 201, errors: 21, p50Ms: 100, p99Ms: 198 });
    expect(percentile([], 0.99)).toBeNull();
    expect(figuresOf(emptyTally())).toEqual({ requests: 0, errors: 0, p50Ms: null, p99Ms: null });
  });
});

describe('judgeWindow', () => {
  it('is inconclusive with too few requests, never a pass, even when all of them failed', () => {
    const verdict = judgeWindow(figures(19, 19), figures(500, 0), T, { candidate: 'slot b', baseline: 'slot a' });
    expect(verdict.outcome).toBe('inconclusive');
    expect(verdict.reasons).toEqual(['slot b answered 19 requests, fewer than the 20 needed to judge (CANARY_MIN_REQUESTS)']);
    expect(judgeWindow(figures(0, 0, null), figures(0, 0, null), T).outcome).toBe('inconclusive');
  });

  it('fails above max(CANARY_MAX_ERROR_RATE, 2 × the baseline) with at least CANARY_MIN_ERRORS errors', () => {
    const labels = { candidate: 'slot b', baseline: "slot a before the switch" };
    const bad = judgeWindow(figures(1050, 412), figures(980, 0), T, labels);
    expect(bad.outcome).toBe('fail');
    expect(bad.reasons).toEqual(["slot b: 412 of 1,050 requests 5xx (39.2 %) against slot a before the switch's 0 of 980 (0.0 %); the limit is 1.0 %"]);
    // A baseline at 3 %: up to 6 % is that app's normal.
    expect(judgeWindow(figures(1000, 55), figures(1000, 30), T).outcome).toBe('pass');
    expect(judgeWindow(figures(1000, 65), figures(1000, 30), T).outcome).toBe('fail');
    // Above the rate, but two errors are noise.
    expect(judgeWindow(figures(50, 2), figures(1000, 0), T).outcome).toBe('pass');
    expect(judgeWindow(figures(50, 3), figures(1000, 0), T).outcome).toBe('fail');
    // 1 % exactly is within.
    expect(judgeWindow(figures(1000, 10), figures(1000, 0), T).outcome).toBe('pass');
  });

  it('a baseline with too few requests does not raise the limit: the absolute rate alone', () => {
    const verdict = judgeWindow(figures(100, 10), figures(3, 1), T);
    expect(verdict.outcome).toBe('fail');
    expect(verdict.reasons[0]).toMatch(/with too few requests to compare \(3\), so CANARY_MAX_ERROR_RATE alone; the limit is 1.0 %/);
  });

  it('fails on p99 above max(1.5 × baseline, baseline + 100 ms), judged only on 100 requests a side', () => {
    expect(judgeWindow(figures(200, 0, 111), figures(200, 0, 10), T).outcome).toBe('fail');
    expect(judgeWindow(figures(200, 0, 110), figures(200, 0, 10), T).outcome).toBe('pass');
    expect(judgeWindow(figures(200, 0, 1501), figures(200, 0, 1000), T)).toMatchObject({ outcome: 'fail', reasons: ["the new slot: p99 1501 ms against the old slot's 1000 ms; the limit is 1500 ms"] });
    expect(judgeWindow(figures(99, 0, 5000), figures(200, 0, 10), T).outcome).toBe('pass');
    expect(judgeWindow(figures(200, 0, 5000), figures(99, 0, 10), T).outcome).toBe('pass');
    expect(judgeWindow(figures(200, 0, 5000), figures(0, 0, null), T).outcome).toBe('pass');
  });

  it('names every failed figure', () => {
    expect(judgeWindow(figures(200, 50, 900), figures(200, 0, 10), T).reasons).toHaveLength(2);
  });
});

describe('the judging keys', () => {
  const base = { APP_NAME: 'shop', REPO: '/srv/shop.git', DEPLOY_ROOT: '/srv/shop' };
  const resolve = (values: Record<string, string>) => resolveConfig({ fileValues: { ...base, ...values }, env: {}, envFile: '/etc/switchyard/shop.env' });

  it('defaults: 10 s windows, 1 %, 3 errors, 20 requests, 1.5 × / +100 ms, 2 windows, hold, UDP on PORT_A', () => {
    const config = resolve({ PORT_A: '4001', PORT_B: '4002' });
    expect(config.judge).toEqual({ intervalMs: 10_000, maxErrorRate: 0.01, minErrors: 3, minRequests: 20, p99Factor: 1.5, p99SlackMs: 100, failedWindows: 2, inconclusive: 'hold', inconclusiveWindows: 6, bakeCheckCmd: '', logPort: 4001 });
    expect(thresholdsFrom(config)).toEqual(T);
  });

  it('reads rates as N% or a fraction, and names every bad value at once', () => {
    expect(parseRate('2.5%')).toBe(0.025);
    expect(parseRate('0.05')).toBe(0.05);
    expect(parseRate('5')).toBeUndefined();
    expect(parseRate('101%')).toBeUndefined();
    const call = () => resolve({ CANARY_MAX_ERROR_RATE: 'lots', CANARY_INTERVAL: '100ms', CANARY_FAILED_WINDOWS: '0', CANARY_INCONCLUSIVE: 'wait', CANARY_P99_FACTOR: '0.5', TRAFFIC_LOG_PORT: '99999' });
    expect(call).toThrow(/CANARY_MAX_ERROR_RATE must be a share such as 1% or 0.01; got "lots"/);
    expect(call).toThrow(/CANARY_INTERVAL must be a duration such as 10s or 500ms of at least 1000ms; got "100ms"/);
    expect(call).toThrow(/CANARY_FAILED_WINDOWS must be a whole number of at least 1; got "0"/);
    expect(call).toThrow(/CANARY_INCONCLUSIVE must be hold, promote, rollback; got "wait"/);
    expect(call).toThrow(/CANARY_P99_FACTOR must be a number of at least 1/);
    expect(call).toThrow(/TRAFFIC_LOG_PORT must be a port number 1-65535; got "99999"/);
  });
});
