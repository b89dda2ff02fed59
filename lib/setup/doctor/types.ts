import type { Config } from '../../config/config.ts';

/** One check of `./deploy.ts doctor`: np's `{title, task}`, printed and run from one list. */
export type CheckResult = { ok: boolean; detail: string; fix?: string };
export type CheckContext = {
  config: Config;
  env: Record<string, string | undefined>;
  /** package.json's engines.node, e.g. ">=20.19". */
  nodeEngines: string;
};
export type Check = { title: string; run(ctx: CheckContext): Promise<CheckResult> | CheckResult };
export type CheckOutcome = CheckResult & { title: string };

export const pass = (detail: string): CheckResult => ({ ok: true, detail });
export const fail = (detail: string, fix: string): CheckResult => ({ ok: false, detail, fix });
