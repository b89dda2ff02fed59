import type { JudgeSettings } from '../config/judge-settings.ts';
import type { Canary, CanaryWindow } from '../record/state-shape.ts';

/**
 * What a canary does after a judged window (its newest in `canary.windows`). Pure.
 * - CANARY_FAILED_WINDOWS failed windows in a row roll back (with AUTO_ROLLBACK=on; off: it holds).
 * - A passing window moves to the next step, or after the last one promotes.
 * - A failing window short of that holds the share: the next window decides.
 * - Inconclusive windows (too few requests) hold; after CANARY_INCONCLUSIVE_WINDOWS in a row,
 *   CANARY_INCONCLUSIVE says what happens: hold (and say so), promote or rollback. Never a silent pass.
 */

export type CanaryAction =
  | { kind: 'step'; step: number; share: number }
  | { kind: 'promote'; why: string }
  | { kind: 'rollback'; why: string }
  | { kind: 'hold'; why: string };

export type CanaryRules = Pick<JudgeSettings, 'failedWindows' | 'inconclusive' | 'inconclusiveWindows'> & { autoRollback: boolean };

/** How many of the newest windows in a row had `outcome`. */
export function inARow(windows: readonly CanaryWindow[], outcome: CanaryWindow['outcome']): number {
  let count = 0;
  for (let index = windows.length - 1; index >= 0 && windows[index].outcome === outcome; index--) count++;
  return count;
}

export function nextAction(canary: Canary, rules: CanaryRules): CanaryAction {
  const last = canary.windows.at(-1);
  if (!last) return { kind: 'hold', why: 'no window judged yet' };
  const reasons = last.reasons.join('; ');
  if (last.outcome === 'fail') {
    const failed = inARow(canary.windows, 'fail');
    if (failed < rules.failedWindows) return { kind: 'hold', why: `window failed (${failed} of ${rules.failedWindows} in a row): ${reasons}` };
    if (!rules.autoRollback) return { kind: 'hold', why: `${failed} windows failed in a row, but AUTO_ROLLBACK=off: ./deploy.ts rollback ends it; last: ${reasons}` };
    return { kind: 'rollback', why: `${failed} windows in a row failed at ${canary.share}% of users: ${reasons}` };
  }
  if (last.outcome === 'inconclusive') {
    const held = inARow(canary.windows, 'inconclusive');
    if (held < rules.inconclusiveWindows) return { kind: 'hold', why: `inconclusive (${held} of ${rules.inconclusiveWindows} windows): ${reasons}` };
    const policy = `${held} inconclusive windows in a row (CANARY_INCONCLUSIVE=${rules.inconclusive}): ${reasons}`;
    if (rules.inconclusive === 'promote') return { kind: 'promote', why: policy };
    if (rules.inconclusive === 'rollback') return { kind: 'rollback', why: policy };
    return { kind: 'hold', why: `${policy}; it stays at ${canary.share}% until traffic comes or ./deploy.ts promote / rollback` };
  }
  const next = canary.step + 1;
  if (next < canary.steps.length) return { kind: 'step', step: next, share: canary.steps[next] };
  return { kind: 'promote', why: `the window at ${canary.share}% of users passed, the last step` };
}
