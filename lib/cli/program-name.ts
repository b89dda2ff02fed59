import path from 'node:path';

/** The clone's name for the CLI: every message and help text is written with it. */
export const CLONE_PROGRAM = './deploy.ts';

/** The name to show: `switchyard` when run through npm's bin link (or npx), `./deploy.ts` from a clone. Pure. */
export function programName(scriptPath: string | undefined): string {
  const base = path.basename(scriptPath ?? '');
  return base === '' || base === 'deploy.ts' || base === 'deploy.mjs' ? CLONE_PROGRAM : base;
}

/**
 * Text for a person with `./deploy.ts` replaced by the name the CLI was run as. Applied where text leaves
 * the process (the reporter, help, usage), so the many messages that name a next command stay one string each. Pure.
 */
export function asInvoked(text: string, program: string | undefined): string {
  return !program || program === CLONE_PROGRAM ? text : text.replace(/(^|[\s`'"(])\.\/deploy\.ts(?![\w/-]|\.\w)/g, (_, before: string) => `${before}${program}`);
}
