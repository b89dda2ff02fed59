import { SLOTS } from '../config/config.ts';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SwitchyardError } from '../errors.ts';
import { ensurePrivateDir } from '../host/files.ts';
import { paths } from '../host/paths.ts';
import { redactUrlCredentials } from '../config/redact.ts';
import { capture, probeCommand, runCommand, type RunOptions } from '../host/run.ts';
import { repoAccess, withAccess } from './git-credentials.ts';
import { gitArgv } from '../host/commands/git.ts';

/** Runs git's argv (lib/host/commands/git.ts), always with cleanGitEnv() of the environment its caller hands in. */

type Env = Record<string, string | undefined>;

/** A full commit SHA, SHA-1 or SHA-256: it names one commit for good, so it is never a branch or tag to look up. */
const FULL_SHA = /^[0-9a-f]{40,64}$/;

/**
 * Variables that make git act on another repository than the one named by `-C` (set in git hooks, or
 * by a shell inside another repository): `git rev-parse --local-env-vars`, plus the namespace,
 * discovery, quarantine and pathspec ones. Transport and identity variables (GIT_SSH_COMMAND, ...) stay.
 */
const REPOSITORY_VARIABLES = new Set([
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_IMPLICIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_CEILING_DIRECTORIES',
  'GIT_DISCOVERY_ACROSS_FILESYSTEM', 'GIT_PREFIX', 'GIT_INTERNAL_SUPER_PREFIX', 'GIT_GRAFT_FILE',
  'GIT_NO_REPLACE_OBJECTS', 'GIT_REPLACE_REF_BASE', 'GIT_SHALLOW_FILE', 'GIT_QUARANTINE_PATH',
  'GIT_LITERAL_PATHSPECS', 'GIT_GLOB_PATHSPECS', 'GIT_NOGLOB_PATHSPECS', 'GIT_ICASE_PATHSPECS',
]);

/** The environment every git command of Switchyard runs with: no repository-redirecting variable, no GIT_CONFIG*. Pure. */
export function cleanGitEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) {
    if (REPOSITORY_VARIABLES.has(key) || key.startsWith('GIT_CONFIG')) continue;
    result[key] = value;
  }
  return result;
}

/** Our own git commands also never wait for a password typed at a terminal (a push hook has none): they fail instead. */
function gitEnv(env: Env): Env {
  return { ...cleanGitEnv(env), GIT_TERMINAL_PROMPT: '0' };
}

function gitOptions(options: RunOptions, extraEnv: Record<string, string> = {}): RunOptions {
  return { ...options, env: { ...gitEnv(options.env), ...extraEnv } };
}

function gitCapture(argv: readonly string[], env: Env): Promise<string> {
  return capture(argv, { env: gitEnv(env) });
}

/** A revision an operator typed: refuse what cannot be a revision before git sees it. */
export function checkRevision(revision: string): string | undefined {
  if (revision.length === 0) return 'the commit is empty';
  if (revision.length > 256) return 'the commit is longer than 256 characters';
  if (revision.startsWith('-')) return `${JSON.stringify(revision)} looks like an option, not a commit`;
  if (/[\0-\x1f\x7f]/.test(revision)) return 'the commit contains control characters';
  return undefined;
}

export function cacheDir(deployRoot: string): string {
  return paths.mirror(deployRoot);
}

/** Where Switchyard up to this version kept its mirror; the README's own bare repository path collided with it. */
export function legacyMirrorDir(deployRoot: string): string {
  return path.join(deployRoot, 'repo.git');
}

/** Make the local mirror exist and fetch REPO's branches and tags into it, from REPO as configured now. */
export async function fetchRepo(repo: string, cache: string, options: RunOptions): Promise<void> {
  if (samePath(repo, cache)) {
    throw new SwitchyardError(`REPO ${repo} is Switchyard's own mirror of the repository`, {
      untouched: 'no slot was touched',
      next: 'point REPO at the repository you push to (a bare repository outside DEPLOY_ROOT/.switchyard)',
    });
  }
  const deployRoot = path.dirname(path.dirname(cache));
  if (cache === paths.mirror(deployRoot)) await adoptLegacyMirror(deployRoot, repo, cache, options);
  if (!existsSync(path.join(cache, 'HEAD'))) {
    rmSync(cache, { recursive: true, force: true });
    ensurePrivateDir(path.dirname(cache));
    await runCommand(gitArgv.initMirror(cache), gitOptions(options));
  }
  const access = repoAccess(repo);
  await runCommand(withAccess(gitArgv.fetch(cache, access.url), access), gitOptions(options, access.env));
  // What `git fetch` itself runs last (`git maintenance run --auto`: usually a look at the object
  // count, sometimes a gc), started now and awaited by the checkout, so it overlaps the resolve and
  // the checkout instead of adding a process to every fetch. git locks what a gc and a worktree add
  // share (gc.pid, the worktree's "initializing" lock). Its failure fails nothing, as in git fetch.
  maintenance = runCommand(gitArgv.maintenance(cache), gitOptions(options)).then(
    () => undefined,
    () => undefined,
  );
}

/** The mirror's auto maintenance the last fetch started, if any (settled: it never rejects). */
let maintenance: Promise<void> | undefined;

/**
 * The mirror an older Switchyard cloned to DEPLOY_ROOT/repo.git moves to the new place (keeping its
 * objects) and loses its stored `origin` (and the credentials in it). Only when it is surely ours:
 * not REPO itself, and its worktrees are our slots or its origin is REPO.
 */
async function adoptLegacyMirror(deployRoot: string, repo: string, cache: string, options: RunOptions): Promise<void> {
  const legacy = legacyMirrorDir(deployRoot);
  if (!(await isLegacyMirror(deployRoot, repo, options.env))) return;
  if (existsSync(path.join(cache, 'HEAD'))) {
    rmSync(legacy, { recursive: true, force: true });
    return;
  }
  rmSync(cache, { recursive: true, force: true });
  ensurePrivateDir(path.dirname(cache));
  renameSync(legacy, cache);
  rmSync(path.join(cache, 'FETCH_HEAD'), { force: true });
  await runCommand(gitArgv.removeOrigin(cache), gitOptions(options)).catch(() => undefined);
  const slots = SLOTS.map((slot) => paths.slot(deployRoot, slot)).filter((dir) => existsSync(path.join(dir, '.git')));
  if (slots.length > 0) await runCommand(gitArgv.repairWorktrees(cache, slots), gitOptions(options)).catch(() => undefined);
}

/** Whether DEPLOY_ROOT/repo.git is the mirror an older Switchyard made (and not the operator's own repository). */
export async function isLegacyMirror(deployRoot: string, repo: string, env: Env): Promise<boolean> {
  const legacy = legacyMirrorDir(deployRoot);
  if (!existsSync(path.join(legacy, 'HEAD')) || samePath(repo, legacy)) return false;
  const slotGitFiles = SLOTS.map((slot) => path.join(paths.slot(deployRoot, slot), '.git'));
  try {
    for (const entry of readdirSync(path.join(legacy, 'worktrees'))) {
      const gitdir = readFileSync(path.join(legacy, 'worktrees', entry, 'gitdir'), 'utf8').trim();
      if (slotGitFiles.includes(path.resolve(gitdir))) return true;
    }
  } catch {
    // No worktrees: look at its origin below.
  }
  const origin = await gitCapture(gitArgv.originUrl(legacy), env).catch(() => '');
  return origin !== '' && redactUrlCredentials(origin) === redactUrlCredentials(repo);
}

/** Whether `dir` is (or is inside) Switchyard's own mirror, or the older mirror the next deploy adopts. */
export async function isOwnMirror(dir: string, deployRoot: string, repo: string, env: Env): Promise<boolean> {
  const resolved = realOrResolved(dir);
  const own = realOrResolved(paths.mirror(deployRoot));
  if (resolved === own || resolved.startsWith(`${own}${path.sep}`)) return true;
  return samePath(dir, legacyMirrorDir(deployRoot)) && (await isLegacyMirror(deployRoot, repo, env));
}

/** Full SHA of a commit, tag or branch; a clear error when it does not exist or names more than one commit. */
export async function resolveCommit(cache: string, revision: string, env: Env): Promise<string> {
  const problem = checkRevision(revision);
  if (problem) throw new SwitchyardError(`cannot deploy ${JSON.stringify(revision)}: ${problem}`, { untouched: 'no slot was touched' });
  await refuseBranchAndTag(cache, revision, env);
  try {
    const sha = await gitCapture(gitArgv.resolve(cache, revision), env);
    if (FULL_SHA.test(sha)) return sha;
  } catch {
    // Falls through: an ambiguous abbreviation, or a name that does not exist.
  }
  await refuseAmbiguousAbbreviation(cache, revision, env);
  throw new SwitchyardError(`commit ${JSON.stringify(revision)} does not exist in the repository`, {
    untouched: 'no slot was touched',
    next: 'check the commit, tag or branch name (it was looked up after a fetch)',
  });
}

/**
 * A full SHA whose commit the mirror already has: that commit, known without a fetch (a full SHA names
 * one commit for good, whatever REPO's branches did since). Undefined for anything else, or a commit the
 * mirror does not have (yet): then a fetch is needed.
 */
export async function knownCommit(cache: string, revision: string, env: Env): Promise<string | undefined> {
  if (!FULL_SHA.test(revision) || !existsSync(path.join(cache, 'HEAD'))) return undefined;
  const sha = await gitCapture(gitArgv.resolve(cache, revision), env).catch(() => '');
  return sha === revision ? sha : undefined;
}

/**
 * The commit a fetch of REPO would resolve `revision` to, asked of REPO itself without fetching (the
 * dry run): a branch or tag (a tag peeled to its commit); undefined when REPO has no such name, or
 * for a SHA or an abbreviation, which only objects can resolve.
 */
export async function remoteCommit(
  repo: string,
  revision: string,
  env: Env,
): Promise<string | undefined> {
  if (/^[0-9a-f]{4,64}$/.test(revision)) return undefined;
  const refs = revision.startsWith('refs/') ? [revision] : [`refs/heads/${revision}`, `refs/tags/${revision}`];
  const access = repoAccess(repo);
  const argv = withAccess(gitArgv.lsRemote(access.url, refs.flatMap((ref) => (ref.startsWith('refs/tags/') ? [ref, `${ref}^{}`] : [ref]))), access);
  const result = await probeCommand(argv, { env: { ...gitEnv(env), ...access.env }, timeoutMs: 20_000 });
  if (result.exitCode !== 0) return undefined;
  const found = new Map(result.stdout.split('\n').filter(Boolean).map((line) => { const [sha, ref] = line.split('\t'); return [ref, sha] as const; }));
  for (const ref of refs) {
    const sha = found.get(`${ref}^{}`) ?? found.get(ref);
    if (sha) return sha;
  }
  return undefined;
}

/** git would pick the tag and only warn; a deploy must not guess which one was meant. */
async function refuseBranchAndTag(cache: string, revision: string, env: Env): Promise<void> {
  if (revision.startsWith('refs/') || FULL_SHA.test(revision)) return;
  const lines = (await gitCapture(gitArgv.sameNamedRefs(cache, revision), env).catch(() => '')).split('\n').filter(Boolean);
  const found = new Map<string, string>();
  for (const line of lines) {
    const [ref, object, peeled] = line.split(' ');
    if (ref === `refs/heads/${revision}` || ref === `refs/tags/${revision}`) found.set(ref, peeled || object);
  }
  const branch = found.get(`refs/heads/${revision}`);
  const tag = found.get(`refs/tags/${revision}`);
  if (branch && tag && branch !== tag) {
    throw new SwitchyardError(`${JSON.stringify(revision)} is ambiguous: it is both a branch (at ${branch.slice(0, 7)}) and a tag (at ${tag.slice(0, 7)})`, {
      untouched: 'no slot was touched',
      next: `deploy refs/heads/${revision} or refs/tags/${revision} to say which`,
    });
  }
}

async function refuseAmbiguousAbbreviation(cache: string, revision: string, env: Env): Promise<void> {
  if (!/^[0-9a-f]{4,39}$/.test(revision)) return;
  const candidates = (await gitCapture(gitArgv.disambiguate(cache, revision), env).catch(() => '')).split('\n').filter(Boolean).slice(0, 20);
  const commits: string[] = [];
  for (const sha of candidates) if ((await gitCapture(gitArgv.objectType(cache, sha), env).catch(() => '')) === 'commit') commits.push(sha);
  if (commits.length > 1) {
    throw new SwitchyardError(`commit ${JSON.stringify(revision)} is ambiguous: ${commits.length} commits start with it (${commits.map((sha) => sha.slice(0, 12)).join(', ')})`, {
      untouched: 'no slot was touched',
      next: 'give more characters of the SHA',
    });
  }
}

/** Put exactly `sha` in the slot folder: a detached worktree of the mirror, cleaned of every untracked file. */
export async function checkoutSlot(cache: string, slotDir: string, sha: string, options: RunOptions): Promise<void> {
  try {
    await checkoutInto(cache, slotDir, sha, options);
  } finally {
    await maintenance;
  }
}

async function checkoutInto(cache: string, slotDir: string, sha: string, options: RunOptions): Promise<void> {
  if (isWorktreeOf(slotDir, cache)) {
    try {
      // 0700 whatever releases/ resolves to (a symlink to a 0755 folder would show the code to every user).
      chmodSync(slotDir, 0o700);
      await runCommand(gitArgv.checkout(slotDir, sha), gitOptions(options));
      await runCommand(gitArgv.clean(slotDir), gitOptions(options));
      return;
    } catch {
      // A damaged worktree (e.g. a deploy killed mid-checkout): start the folder again below.
    }
  }
  rmSync(slotDir, { recursive: true, force: true });
  // Made 0700 before git writes a file in it (git adds a worktree into an empty folder), so no other user ever reads the code.
  mkdirSync(slotDir, { recursive: true, mode: 0o700 });
  // No `worktree prune` first: --force adds over a registration whose folder is gone (git-worktree(1)),
  // and the releases' prune forgets the other stale ones.
  await runCommand(gitArgv.addWorktree(cache, slotDir, sha), gitOptions(options));
}

/** Forget the worktrees whose folders are gone (pruned releases). */
export async function pruneWorktrees(cache: string, env: Env): Promise<void> {
  await runCommand(gitArgv.pruneWorktrees(cache), gitOptions({ env }));
}

/** The commit checked out in a slot folder (for rebuilding a lost state file). */
export function readHead(slotDir: string, env: Env): Promise<string> {
  return gitCapture(gitArgv.headOf(slotDir), env);
}

/** What git says about a folder an operator named: bare or not, its git dir, its hooks folder. */
export async function describeRepository(dir: string, env: Env): Promise<{ bare: boolean; gitDir: string; hooksDir: string }> {
  const [bare, gitDir, hooks] = (await gitCapture(gitArgv.describeRepository(dir), env)).split('\n');
  return { bare: bare === 'true', gitDir, hooksDir: path.resolve(dir, hooks) };
}

/** A slot's `.git` file names the mirror it belongs to; one of another repository (an older mirror) is started again. */
function isWorktreeOf(slotDir: string, cache: string): boolean {
  try {
    const gitdir = /^gitdir: (.+)$/m.exec(readFileSync(path.join(slotDir, '.git'), 'utf8'))?.[1];
    return gitdir !== undefined && path.dirname(path.dirname(path.resolve(slotDir, gitdir))) === realOrResolved(cache);
  } catch {
    return false;
  }
}

function realOrResolved(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

function samePath(a: string, b: string): boolean {
  return realOrResolved(a) === realOrResolved(b);
}
