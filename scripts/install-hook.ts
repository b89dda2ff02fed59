import { readFileSync, realpathSync } from 'node:fs';
import { shellQuote } from '../lib/host/commands/quote.ts';
import { defineCommand } from '../lib/cli/define-command.ts';
import { SPECS } from './specs.ts';
import path from 'node:path';
import { PROJECT_DIR } from '../lib/cli/command.ts';
import type { Config } from '../lib/config/config.ts';
import { SwitchyardError } from '../lib/errors.ts';
import { writeFileAtomic } from '../lib/host/files.ts';
import { describeRepository, isOwnMirror } from '../lib/release/git.ts';

export const TEMPLATE_FILE = path.join(PROJECT_DIR, 'templates', 'post-receive');

export type HookValues = {
  /** Absolute path of deploy.ts. */
  deployTs: string;
  branch: string;
  /** Folder of the node binary to put first on PATH ('' to leave PATH alone). */
  nodeDir: string;
  /** Absolute DEPLOY_ENV_FILE, or undefined when deploy.ts should read the .env beside it. */
  envFile?: string;
};

/** The hook text: the template with its placeholders replaced by shell-quoted values. Pure. */
export function renderPostReceive(template: string, values: HookValues): string {
  const replacements: Record<string, string> = {
    '{{DEPLOY_TS}}': shellQuote(values.deployTs, { always: true }),
    '{{DEPLOY_BRANCH}}': shellQuote(values.branch, { always: true }),
    '{{NODE_DIR}}': shellQuote(values.nodeDir, { always: true }),
    '{{ENV_FILE}}': shellQuote(values.envFile ?? '', { always: true }),
  };
  let text = template;
  for (const [placeholder, value] of Object.entries(replacements)) {
    if (!text.includes(placeholder)) throw new SwitchyardError(`the hook template has no ${placeholder}`, { untouched: 'no hook was written', next: 'restore templates/post-receive from git' });
    text = text.split(placeholder).join(value);
  }
  return text;
}

export type InstallPlan = 'write' | 'unchanged' | 'refuse';

/** What to do with the hook path, given what is there now (undefined: nothing). Pure. */
export function planInstall(existing: string | undefined, rendered: string, force: boolean): InstallPlan {
  if (existing === undefined) return 'write';
  if (existing === rendered) return 'unchanged';
  return force ? 'write' : 'refuse';
}

/** The hooks folder of a bare repository, refusing a work tree or a folder inside a repository. */
async function bareHooksDir(repo: string, config: Config): Promise<string> {
  const untouched = 'no hook was written';
  // Before git looks at it: `git init --bare` on Switchyard's mirror "reinitializes" it, and pushes there are lost at the next fetch.
  if (await isOwnMirror(repo, config.deployRoot, config.repo, config.commandEnv)) {
    throw new SwitchyardError(`${repo} is Switchyard's own mirror of REPO, not a repository to push to (every deploy overwrites its branches)`, {
      untouched,
      next: `create your bare repository elsewhere (e.g. git init --bare ${path.join(path.dirname(config.deployRoot), `${config.appName}.git`)}), point REPO at it and install the hook there`,
    });
  }
  let described: { bare: boolean; gitDir: string; hooksDir: string };
  try {
    described = await describeRepository(repo, config.commandEnv);
  } catch (error) {
    throw new SwitchyardError(`${repo} is not a git repository`, { untouched, next: `create it with \`git init --bare ${repo}\` or name the right folder`, cause: error });
  }
  const { bare, gitDir, hooksDir } = described;
  if (!bare) throw new SwitchyardError(`${repo} is not a bare repository (a push to a checked-out branch is refused)`, { untouched, next: 'name a bare repository (git clone --bare) and point REPO at it' });
  // git -C also finds a repository from a folder inside it (e.g. BARE_REPO/hooks): the hook would land in the wrong place.
  if (realpathSync(gitDir) !== realpathSync(repo)) throw new SwitchyardError(`${repo} is inside the bare repository ${gitDir}, not one itself`, { untouched, next: `run install-hook ${gitDir}` });
  return hooksDir;
}

function sameRepository(configured: string, repo: string): boolean {
  if (configured === repo) return true;
  try {
    return realpathSync(configured) === realpathSync(repo);
  } catch {
    return false;
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SwitchyardError(`cannot read ${file}: ${(error as Error).message}`, { untouched: 'no hook was written', next: 'check its permissions' });
  }
}

export const command = defineCommand({
  spec: SPECS['install-hook'],
  config: ['APP_NAME', 'REPO', 'DEPLOY_ROOT'],
  untouched: 'no hook was written',
  help: `Installs a post-receive hook in the bare git repository BARE_REPO (its hooks folder, or
core.hooksPath): a push to DEPLOY_BRANCH runs \`deploy.ts deploy <pushed commit>\`, and the pusher
sees the deploy's output as \`remote:\` lines. Pushes to other branches and branch deletions are
ignored. The hook holds the absolute path of this deploy.ts, DEPLOY_BRANCH, the folder of the node
running this command and DEPLOY_ENV_FILE (when set), as they are now: install it again after
changing any of them. Point REPO at the same bare repository.

Pushes take turns: a push made while the deploy of an earlier one (or a deploy run by hand) is still
running waits for it, then deploys its commit if it is still DEPLOY_BRANCH's tip (else the newer
push deploys the newer commit), so no push is lost.

git does not let a post-receive hook fail a push: when the deploy fails, \`git push\` still exits 0
(the branch has moved); the \`remote:\` lines say DEPLOY FAILED and the live slot keeps serving.

An existing different post-receive hook is left alone unless --force.
`,
  async run({ io, flags, args, config, reporter }) {
    const repo = path.resolve(args.BARE_REPO);
    const hookFile = path.join(await bareHooksDir(repo, config), 'post-receive');
    const rendered = renderPostReceive(readFileSync(TEMPLATE_FILE, 'utf8'), {
      deployTs: path.join(PROJECT_DIR, 'deploy.ts'),
      branch: config.branch,
      nodeDir: path.dirname(process.execPath),
      envFile: io.env.DEPLOY_ENV_FILE ? config.envFile : undefined,
    });
    if (!sameRepository(config.repo, repo)) {
      reporter.warn(`REPO is ${config.repo}, not ${repo}: the deploy fetches the pushed commit from REPO, so a push here fails to deploy until REPO has it`);
    }
    const plan = planInstall(readIfExists(hookFile), rendered, flags.force);
    if (plan === 'refuse') {
      throw new SwitchyardError(`${hookFile} already exists and is not this Switchyard hook`, { untouched: 'it was left as it is', next: 'move it aside (or merge it by hand), or rerun with --force to replace it' });
    }
    if (plan === 'write') writeFileAtomic(hookFile, rendered, 0o755);
    const verb = plan === 'write' ? 'installed' : 'already up to date:';
    reporter.success(`${verb} ${hookFile}: pushes to ${config.branch} deploy with ${path.join(PROJECT_DIR, 'deploy.ts')}`);
    return 0;
  },
});
