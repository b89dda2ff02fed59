import { cleanGitEnv } from '../../release/git.ts';
import { gitArgv } from '../../host/commands/git.ts';
import { repoAccess, withAccess } from '../../release/git-credentials.ts';
import { redactUrlCredentials } from '../../config/redact.ts';
import { probeCommand } from '../../host/run.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/** The argv of the check: the branch's ref on REPO (its credentials go through the environment), nothing fetched or written. Pure. */
export function lsRemoteArgv(repo: string, branch: string): string[] {
  const access = repoAccess(repo);
  return withAccess(gitArgv.lsRemote(access.url, [`refs/heads/${branch}`]), access);
}

/** git with the deploy's clean environment, no prompt for a password, and ssh that never asks either. */
export function probeGitEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const clean = cleanGitEnv(env);
  return { ...clean, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: clean.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes -o ConnectTimeout=10' };
}

/** What git's refusal means and the exact fix. Pure. */
export function explainGitFailure(stderr: string, repo: string): { detail: string; fix: string } {
  const safe = /git config --global --add safe\.directory (\S+)/.exec(stderr);
  if (/dubious ownership/.test(stderr)) {
    const dir = safe?.[1]?.replace(/^'|'$/g, '') ?? repo;
    return {
      detail: `git refuses REPO ${repo}: it belongs to another user ("dubious ownership"), and git does not read repositories of other users unless told they are safe`,
      fix: `as the deploy user: git config --global --add safe.directory ${dir}   (or let the deploy user own it: sudo chown -R $(id -un) ${dir.replace(/\/\.git$/, '')})`,
    };
  }
  const last = stderr.trim().split('\n').filter(Boolean).at(-1) ?? 'no output';
  if (/Permission denied \(publickey|Host key verification failed/.test(stderr)) {
    return { detail: `git cannot log in to ${redactUrlCredentials(repo)}: ${last}`, fix: 'add the deploy user\'s public key (~/.ssh/id_ed25519.pub) as a deploy key of the repository and accept the host key once: ssh -T <git host>' };
  }
  const shown = redactUrlCredentials(repo);
  // git's last line is the tail of its generic advice ("...and the repository exists."): name the first line that says what failed.
  const cause = redactUrlCredentials(firstCause(stderr) ?? last);
  if (/does not appear to be a git repository/.test(stderr)) {
    return { detail: `REPO ${shown} is not a git repository (the path does not exist, or holds no repository)`, fix: `fix REPO in the .env, or create the repository there (git init --bare ${shown}) and push to it` };
  }
  if (/Could not resolve hostname|Could not resolve host/.test(stderr)) {
    return { detail: `git cannot reach the host of REPO ${shown}: ${cause}`, fix: 'check the host name in REPO, and that this host resolves it (getent hosts <host>)' };
  }
  if (/Repository not found|repository '.*' not found|does not exist/i.test(stderr)) {
    return { detail: `the git host answers, but has no repository ${shown} for the deploy user: ${cause}`, fix: "check the repository's name in REPO, and that the deploy user's key (or token) may read it" };
  }
  if (/Connection refused|Connection timed out|Failed to connect|Couldn't connect/.test(stderr)) {
    return { detail: `git cannot connect to REPO ${shown}: ${cause}`, fix: 'check the host and port in REPO, and the network path (a firewall, a proxy)' };
  }
  return { detail: `git cannot read ${shown}: ${cause}`, fix: `run git ls-remote ${shown} as the deploy user to see why, then fix REPO in the .env or the deploy user's access` };
}

/** git's first `fatal:` / `ERROR:` / `ssh:` line, without its prefix. Pure. */
function firstCause(stderr: string): string | undefined {
  const line = stderr.split('\n').map((each) => each.trim()).find((each) => /^(fatal|error|ERROR|ssh):/.test(each));
  return line?.replace(/^(fatal|error|ERROR):\s*/, '');
}

export async function checkRepository(ctx: CheckContext): Promise<CheckResult> {
  const { repo, branch } = ctx.config;
  const result = await probeCommand(lsRemoteArgv(repo, branch), {
    env: { ...probeGitEnv(ctx.env), ...repoAccess(repo).env },
    timeoutMs: 20_000,
  });
  if (result.timedOut) return fail(`git ls-remote ${redactUrlCredentials(repo)} did not answer within 20s`, 'check the network path and the host in REPO');
  if (result.error && result.exitCode === -1) return fail(`git could not run: ${result.error}`, 'install git: apt-get install -y git');
  if (result.exitCode !== 0) {
    const { detail, fix } = explainGitFailure(result.stderr, repo);
    return fail(detail, fix);
  }
  const line = result.stdout.split('\n').find((entry) => entry.endsWith(`\trefs/heads/${branch}`));
  if (!line) return fail(`${redactUrlCredentials(repo)} is reachable but has no branch ${branch}`, `push it (git push <remote> ${branch}) or set DEPLOY_BRANCH to a branch it has`);
  return pass(`${redactUrlCredentials(repo)} is reachable; ${branch} is at ${line.slice(0, 7)}`);
}
