import { cleanGitEnv } from '../../release/git.ts';
import { redactUrlCredentials } from '../../config/redact.ts';
import { probeCommand } from '../../host/run.ts';
import { fail, pass, type CheckContext, type CheckResult } from './types.ts';

/** The argv of the check: the branch's ref on REPO, nothing fetched or written. Pure. */
export function lsRemoteArgv(repo: string, branch: string): string[] {
  return ['git', 'ls-remote', '--', repo, `refs/heads/${branch}`];
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
  return { detail: `git cannot read ${redactUrlCredentials(repo)}: ${redactUrlCredentials(last)}`, fix: 'check REPO in the .env and that the deploy user can read it (git ls-remote <REPO>)' };
}

export async function checkRepository(ctx: CheckContext): Promise<CheckResult> {
  const { repo, branch } = ctx.config;
  const result = await probeCommand(lsRemoteArgv(repo, branch), { env: probeGitEnv(ctx.env), timeoutMs: 20_000 });
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
