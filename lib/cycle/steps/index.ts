import type { FlowStepName } from '../step-table.ts';
import type { StepFunction } from '../types.ts';
import { bake } from './bake.ts';
import { build } from './build.ts';
import { canary } from './canary.ts';
import { checkout } from './checkout.ts';
import { drain } from './drain.ts';
import { fetch } from './fetch.ts';
import { health } from './health.ts';
import { install } from './install.ts';
import { record } from './record.ts';
import { release } from './release.ts';
import { start } from './start.ts';
import { switchTraffic } from './switch.ts';

/** What each step of the table does; the runner journals its phase before calling it. */
export const STEP_FUNCTIONS: Record<FlowStepName, StepFunction> = {
  fetch,
  checkout,
  install,
  build,
  release,
  start,
  health,
  canary,
  switch: switchTraffic,
  bake,
  drain,
  record,
};
