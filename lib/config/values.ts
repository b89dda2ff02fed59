import { KNOWN_KEYS } from './keys.ts';

/** The parsers of single values the configuration is made of (ports, sizes, paths, key names). Pure. */

export type SharedPath = { path: string; dir: boolean };

/** The port of an nginx `listen` value (`80`, `8080`, `127.0.0.1:8080`, `[::1]:8080`); undefined when it is not one. Pure. */
export function parseListen(listen: string): number | undefined {
  const match = /^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.*-]+):)?(\d{1,5})$/.exec(listen.trim());
  const port = match ? Number(match[1]) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** The site's check location as Switchyard reaches it: through loopback, on the port the site listens on. Pure. */
export function checkUrlFor(listen: string): string {
  const port = parseListen(listen);
  const address = listen.trim().slice(0, -String(port).length - 1);
  const host = address.startsWith('[') ? (address === '[::]' ? '[::1]' : address) : !address || address === '*' || address === '0.0.0.0' ? '127.0.0.1' : address;
  return `http://${host}${port === 80 ? '' : `:${port}`}/__switchyard/health`;
}

/** Suggest the known key an unknown one was probably meant to be. */
export function suggestKey(unknown: string): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of KNOWN_KEYS) {
    const distance = editDistance(unknown.toUpperCase(), key);
    if (distance <= 2 && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

/** Levenshtein distance, for "did you mean" suggestions. Pure. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** `10M`, `500K`, `1G`, `1048576` (bytes; a trailing B is allowed) → bytes; undefined when it is not a size. Pure. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)\s*([KMG]?)i?B?$/i.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
}

/** SHARED_PATHS: relative, inside the app folder (no `..`, no `.git`), each at most once; problems are pushed. Pure. */
export function parseSharedPaths(text: string, problems: string[]): SharedPath[] {
  return parseAppPaths('SHARED_PATHS', text, problems, { noun: 'path', not: '.git' }).map(({ entry, clean }) => ({ path: clean, dir: entry.endsWith('/') }));
}

/** BUILD_CACHE_PATHS: relative folders inside the app folder (no `..`, not .git or node_modules itself), none inside another; an empty value is none. Pure. */
export function parseBuildCachePaths(text: string, problems: string[]): string[] {
  // node_modules itself is the install cache's (verified against its manifest); a build cache lives inside it.
  return parseAppPaths('BUILD_CACHE_PATHS', text, problems, { noun: 'folder', not: '.git or node_modules itself', refuses: (clean) => clean === 'node_modules' }).map(({ clean }) => clean);
}

/**
 * `key`'s space-separated paths, each relative and inside the app folder (no leading /, no . or ..
 * parts, not under .git, nor what `refuses` names) and none inside another; each refused entry adds
 * its problem. `clean` has no trailing / and no leading ./. Pure.
 */
function parseAppPaths(key: string, text: string, problems: string[], rule: { noun: 'path' | 'folder'; not: string; refuses?: (clean: string) => boolean }): { entry: string; clean: string }[] {
  const result: { entry: string; clean: string }[] = [];
  for (const entry of text.split(/\s+/).filter(Boolean)) {
    const clean = entry.replace(/\/+$/, '').replace(/^(\.\/)+/, '');
    const parts = clean.split('/');
    if (entry.startsWith('/') || clean === '' || parts.some((part) => part === '..' || part === '' || part === '.') || parts[0] === '.git' || rule.refuses?.(clean) || /[\0\n]/.test(entry)) {
      problems.push(`${key} entries must be relative ${rule.noun}s inside the app folder (no leading /, no . or .. parts, not ${rule.not}); got ${JSON.stringify(entry)}`);
      continue;
    }
    const clash = result.find((other) => other.clean === clean || clean.startsWith(`${other.clean}/`) || other.clean.startsWith(`${clean}/`));
    if (clash) {
      problems.push(`${key} lists ${JSON.stringify(entry)} and ${JSON.stringify(clash.clean)}, which overlap; list each ${rule.noun} once`);
      continue;
    }
    result.push({ entry, clean });
  }
  return result;
}

/** APP_NAME's grammar, one for the .env, `--app` and the nginx helper: never an option, a path step or a pattern. */
const APP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What is wrong with an app name, as "must be …"; undefined when it is a good one. Pure. */
export function appNameProblem(name: string): string | undefined {
  if (!APP_NAME_PATTERN.test(name)) return "must be 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit";
  // Slot processes, pid files, units and the helper's files are named after it: '..' would be a path step.
  if (name.includes('..')) return "must not contain '..' (it names files and processes)";
  return undefined;
}

/**
 * What is wrong with a path the nginx site names (`include FILE;`, `if (-f DIR/live-a)`, the warm-file
 * map), as "must be …"; undefined when it is plain. nginx would read `;`, `{`, a space, `#` or `$` in it
 * as configuration (`x.conf; access_log /etc/sudoers.d/x`), and a glob in an include as several files. Pure.
 */
export function nginxPathProblem(file: string): string | undefined {
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(file) || file.includes('..') || /\/\.(\/|$)/.test(file)) {
    return "must be an absolute path of letters, digits, '.', '_', '-' and '/' with no '.' or '..' step (nginx reads it in the site)";
  }
  return undefined;
}

/** What is wrong with HEALTH_PATH, which the site rewrites to and proxies: a URL path and query, nothing nginx would parse. Pure. */
export function healthPathProblem(healthPath: string): string | undefined {
  return /^\/[A-Za-z0-9._~\/%?=&+,:@!-]*$/.test(healthPath) ? undefined : "must start with / and hold only letters, digits and . _ ~ / % ? = & + , : @ ! - (it goes into the nginx site)";
}
