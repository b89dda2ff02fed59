import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { SwitchyardError } from '../errors.ts';
import { paths } from '../host/paths.ts';
import { appFiles, runningPid } from '../slot/app-process.ts';
import { runDir } from '../slot/slots.ts';
import type { State } from '../record/state-shape.ts';
import { upstreamName } from '../traffic/upstream.ts';

/**
 * Issue 23 item 1: an APP_NAME other than the one the host was set up with (edited in the .env file,
 * or exported in the deploy user's shell, which overrides the file) names other upstream groups,
 * other slot processes and another site. A deploy with it installed an upstream whose groups the
 * site does not use, reloaded nginx and took the whole site down. The name is checked against what
 * the host holds before anything changes.
 */

/** What the host says the app is called: the state's, the upstream file's group, the running slots'. */
export type AppNameFacts = { stateApp?: string; upstreamGroup?: string; runningNames: { name: string; pid: number }[] };

/** Why `appName` is not the host's app, in one phrase; undefined when everything agrees. Pure. */
export function appNameMismatch(appName: string, facts: AppNameFacts): string | undefined {
  const found: string[] = [];
  if (facts.stateApp && facts.stateApp !== appName) found.push(`the state file records app "${facts.stateApp}"`);
  if (facts.upstreamGroup && facts.upstreamGroup !== upstreamName(appName)) found.push(`the installed nginx upstream defines ${facts.upstreamGroup}, not ${upstreamName(appName)}`);
  const others = facts.runningNames.filter((each) => !isSlotOf(each.name, appName));
  if (others.length > 0) found.push(`slot processes run under another name (${others.map((each) => `${each.name} pid ${each.pid}`).join(', ')})`);
  return found.length ? found.join('; ') : undefined;
}

/** `myapp-a`, `myapp-b.2`: a slot process of `appName`. Pure. */
function isSlotOf(name: string, appName: string): boolean {
  return new RegExp(`^${appName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[ab](\\.\\d+)?$`).test(name);
}

/** The upstream's base group name (switchyard_<app>, without a slot suffix), if the file is ours. Pure. */
export function upstreamGroupOf(text: string): string | undefined {
  const names = [...text.matchAll(/^\s*upstream\s+(switchyard_\w+)\s*\{/gm)].map((match) => match[1]);
  if (names.length === 0) return undefined;
  // The per-slot layout defines <base>_a, <base>_b and <base>; the others one <base>.
  return names.reduce((shortest, name) => (name.length < shortest.length ? name : shortest));
}

export function gatherAppNameFacts(config: Config, state: State, stateExists: boolean): AppNameFacts {
  const upstream = config.switchKind === 'command' || config.switchKind === 'none' || !existsSync(config.nginx.upstreamFile) ? undefined : readFileSync(config.nginx.upstreamFile, 'utf8');
  const runningNames: AppNameFacts['runningNames'] = [];
  let files: string[] = [];
  try {
    files = readdirSync(runDir(config));
  } catch {
    // No run folder yet: nothing runs.
  }
  for (const file of files) {
    const name = /^(.+-[ab](?:\.\d+)?)\.pid$/.exec(file)?.[1];
    if (!name) continue;
    try {
      const pid = runningPid(appFiles(runDir(config), name));
      if (pid !== undefined) runningNames.push({ name, pid });
    } catch {
      // A file name no app could have: not a slot of anyone's.
    }
  }
  return {
    stateApp: stateExists ? state.app : undefined,
    upstreamGroup: upstream === undefined ? undefined : upstreamGroupOf(upstream),
    runningNames,
  };
}

/** Refuse, before the lock and before any change, a command whose APP_NAME is not the host's app. */
export function refuseOtherAppName(config: Config, state: State): void {
  const stateExists = existsSync(paths.state(config.deployRoot));
  const why = appNameMismatch(config.appName, gatherAppNameFacts(config, state, stateExists));
  if (!why) return;
  throw new SwitchyardError(`APP_NAME is "${config.appName}" but this host's app is not: ${why}`, {
    untouched: 'nothing was changed; the live slot and nginx were not touched',
    next: `set APP_NAME back to the host's name (an APP_NAME exported in the environment overrides ${config.envFile}); to rename the app, stop both slots, write the upstream and the site for the new name (./deploy.ts upstream --write, ./deploy.ts nginx-site) and reload nginx first`,
  });
}
