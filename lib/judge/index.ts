/** Judging a release by nginx's own view of its traffic: the API the bake window and the canary use. */
export { describeFigures, NO_FIGURES, type SlotFigures, type SlotWindow } from './figures.ts';
export { LOG_FORMAT, parseLogLine, type LogLine } from './log-line.ts';
export { judgeWindow, P99_MIN_REQUESTS, thresholdsFrom, type Labels, type Outcome, type Thresholds, type WindowVerdict } from './verdict.ts';
export { judgingFile, openTrafficLog, removeJudgingFile, type TrafficLog } from './traffic-log.ts';
export { runBakeCheck } from './bake-check.ts';
