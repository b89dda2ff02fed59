/**
 * REPO's credentials (`https://user:TOKEN@host/app.git`) kept off git's command line: every local user
 * reads /proc/PID/cmdline, only the same user reads /proc/PID/environ. git gets the URL without them,
 * and a fixed credential helper (the same text for every REPO) that prints them from its environment.
 */

/** `credential.helper` run by git's shell: answers `get` from the variables below, ignores `store` and `erase`. */
export const CREDENTIAL_HELPER = `!f() { test "$1" = get || exit 0; printf 'username=%s\\npassword=%s\\n' "$SWITCHYARD_GIT_USERNAME" "$SWITCHYARD_GIT_PASSWORD"; }; f`;

/** How git reaches REPO: the URL its argv may show, the config arguments and the variables that carry the credentials. */
export type RepoAccess = { url: string; configArgs: string[]; env: Record<string, string> };

/** REPO split into what git's argv shows and what only its environment holds. Pure. */
export function repoAccess(repo: string): RepoAccess {
  // Only http(s): a user name in ssh://git@host is a login name, not a secret, and ssh reads no helper.
  const match = /^(https?:\/\/)([^/?#]*)@(.*)$/is.exec(repo);
  if (!match) return { url: repo, configArgs: [], env: {} };
  const [, scheme, userinfo, rest] = match;
  const colon = userinfo.indexOf(':');
  const username = percentDecoded(colon < 0 ? userinfo : userinfo.slice(0, colon));
  // A token given as the user name alone (https://TOKEN@host) gets an empty password, as git would have asked for one.
  const password = colon < 0 ? '' : percentDecoded(userinfo.slice(colon + 1));
  return {
    url: `${scheme}${rest}`,
    // The empty value first clears every helper configured before (a `store` helper would write the token to ~/.git-credentials).
    configArgs: ['-c', 'credential.helper=', '-c', `credential.helper=${CREDENTIAL_HELPER}`],
    env: { SWITCHYARD_GIT_USERNAME: username, SWITCHYARD_GIT_PASSWORD: password },
  };
}

/** A git argv with REPO's access configuration right after `git`. Pure. */
export function withAccess(argv: readonly string[], access: RepoAccess): string[] {
  const [git, ...rest] = argv;
  return [git, ...access.configArgs, ...rest];
}

/** git decodes %XX in a URL's user name and password (credential_from_url); so do we. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
