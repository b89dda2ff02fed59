import { copyFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The tests' one app (test/fixtures/apps/no-handler.js): what a test wants of it is in files it writes beside it. */
export const FIXTURE_APP = fileURLToPath(new URL('../fixtures/apps/no-handler.js', import.meta.url));

export type FixtureAppOptions = {
  /** A release whose VERSION says "sick" fails /health while this file exists (default /srv/sick: a fleet test host's own). */
  sickWhen?: string;
  /** Closes its server on SIGTERM, as an app with a handler does (default: dies at once, as a generated app does). */
  graceful?: boolean;
  keepAliveMs?: number;
  /** The share of requests other than /health answering 500, counted: 1 all, 0.1 every tenth. */
  failShare?: number;
};

/** Puts the app in the release folder `dir` as server.js; files a former commit left there for other options go. */
export function useFixtureApp(dir: string, options: FixtureAppOptions = {}): void {
  const { failShare, ...settings } = options;
  copyFileSync(FIXTURE_APP, path.join(dir, 'server.js'));
  const failShareFile = path.join(dir, 'FAIL_SHARE');
  if (failShare === undefined) rmSync(failShareFile, { force: true });
  else writeFileSync(failShareFile, `${failShare}\n`);
  const settingsFile = path.join(dir, 'fixture.json');
  if (Object.keys(settings).length === 0) rmSync(settingsFile, { force: true });
  else writeFileSync(settingsFile, `${JSON.stringify(settings)}\n`);
}

/** `useFixtureApp` as the change a commit makes: `example.commit('v2', fixtureApp({ graceful: true }))`. */
export const fixtureApp = (options: FixtureAppOptions = {}) => (dir: string): void => useFixtureApp(dir, options);
