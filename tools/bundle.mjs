#!/usr/bin/env node
/**
 * `npm run build` (also `prepare`, so `npm ci` runs it): bundles the CLI into dist/ so ./deploy.ts
 * starts without compiling TypeScript. dist/deploy.mjs holds only the argument dispatch and usage;
 * each command is one self-contained file (dist/command-<name>.mjs, dependencies included) that the
 * dispatch imports only when that command runs. dist/.stamp, written last, carries the newest
 * modification time of the watched sources: deploy.ts's preamble runs the bundle only while nothing
 * watched is newer, otherwise it runs the TypeScript through tsx.
 */
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIST_DIR = path.join(PROJECT_DIR, 'dist');

/** What deploy.ts's preamble hands to `find -newer dist/.stamp`: keep the two lists equal (test/e2e/cli-start.test.ts checks). */
export const WATCHED = ['deploy.ts', 'lib', 'scripts', 'tools', 'package.json', 'tsconfig.json', 'node_modules/.package-lock.json'];

/** Plain files the bundle reaches by path next to itself (`new URL('./supervisor.mjs', import.meta.url)` in lib/). */
const COPIED = ['lib/slot/supervisor.mjs', 'lib/tsx-register.mjs'];

/** A source edited this shortly before the build could share an mtime tick with an edit during it: wait this long first. */
const SETTLE_MS = 100;

/** esbuild comes with tsx (a dependency), so it is there after `npm ci --omit=dev` too. */
function loadEsbuild() {
  const require = createRequire(import.meta.url);
  return createRequire(require.resolve('tsx/package.json'))('esbuild');
}

/** Newest mtime (ms) over the watched files and folders (a folder's mtime moves when a file is added, removed or renamed). */
function newestSourceMtime() {
  let newest = 0;
  const visit = (file) => {
    const stats = statSync(file);
    newest = Math.max(newest, stats.mtimeMs);
    if (stats.isDirectory()) for (const entry of readdirSync(file)) visit(path.join(file, entry));
  };
  for (const entry of WATCHED) {
    const file = path.join(PROJECT_DIR, entry);
    if (existsSync(file)) visit(file);
  }
  return newest;
}

/** scripts/commands.ts's dynamic imports become imports of the command's own file next to dist/deploy.mjs; `found` collects the names. */
function commandsAsFiles(found) {
  return {
    name: 'commands-as-files',
    setup(build) {
      build.onResolve({ filter: /^\.\/[a-z-]+\.ts$/ }, (args) => {
        if (args.kind !== 'dynamic-import' || args.importer !== path.join(PROJECT_DIR, 'scripts', 'commands.ts')) return undefined;
        const name = args.path.slice(2, -3);
        found.add(name);
        return { path: `./command-${name}.mjs`, external: true };
      });
    },
  };
}

/**
 * lib/host/run.ts loads execa at its first command (`import('execa')`): execa goes to dist/execa.mjs of
 * its own, so the commands that run none (`status`, `--version`) do not even parse it.
 */
function execaAsFile() {
  return {
    name: 'execa-as-file',
    setup(build) {
      build.onResolve({ filter: /^execa$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './execa.mjs', external: true } : undefined));
    },
  };
}

const OPTIONS = {
  absWorkingDir: PROJECT_DIR,
  outdir: DIST_DIR,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Bundled CommonJS dependencies (dotenv, cross-spawn) call require() for node's own modules.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  metafile: true,
  write: false,
  logLevel: 'warning',
};

/** The dispatch first (it names the commands), then one self-contained file per command. */
async function bundleOnce(esbuild) {
  const commands = new Set();
  const dispatch = await esbuild.build({ ...OPTIONS, entryPoints: { deploy: path.join(PROJECT_DIR, 'deploy.ts') }, plugins: [commandsAsFiles(commands)] });
  const entryPoints = Object.fromEntries([...commands].map((name) => [`command-${name}`, path.join(PROJECT_DIR, 'scripts', `${name}.ts`)]));
  const perCommand = await esbuild.build({ ...OPTIONS, entryPoints: { ...entryPoints, execa: 'execa' }, plugins: [commandsAsFiles(new Set()), execaAsFile()] });
  const inputs = new Set([...Object.keys(dispatch.metafile.inputs), ...Object.keys(perCommand.metafile.inputs)]);
  // Packages (wherever a linked node_modules really lives) are covered by node_modules/.package-lock.json.
  const outside = [...inputs].filter((input) => !/(^|\/)node_modules\//.test(input) && !WATCHED.some((entry) => input === entry || input.startsWith(`${entry}/`)));
  if (outside.length > 0) throw new Error(`the bundle reads ${outside.slice(0, 5).join(', ')}, which deploy.ts's preamble does not watch: add it to WATCHED in tools/bundle.mjs and to the preamble`);
  return [...dispatch.outputFiles, ...perCommand.outputFiles];
}

/** Written beside its final name and renamed over it, so a running ./deploy.ts never reads half a file. */
function writeAtomically(file, contents) {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, file);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One build at a time (say `npm ci` and `npm test` at once): two interleaved builds could stamp one's outputs with the other's time. */
async function withBuildLock(work) {
  mkdirSync(DIST_DIR, { recursive: true });
  const lock = path.join(DIST_DIR, '.build.lock');
  for (const deadline = Date.now() + 120_000; ; await sleep(50)) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      // A build takes about a second: a lock this old was left by a build that was killed.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })?.mtimeMs > 60_000) rmSync(lock, { force: true });
      if (Date.now() > deadline) throw new Error(`another build has held ${lock} for 2 minutes; remove it if no build is running`);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Bundles into dist/ and stamps it; returns the files written. */
export function bundle() {
  return withBuildLock(bundleLocked);
}

async function bundleLocked() {
  const esbuild = loadEsbuild();
  for (let attempt = 1; attempt <= 3; attempt++) {
    const newest = newestSourceMtime();
    const age = Date.now() - newest;
    if (age < 0) throw new Error(`a watched source is modified in the future (${new Date(newest).toISOString()}): fix the clock or touch the file, then run npm run build`);
    if (age < SETTLE_MS) await sleep(SETTLE_MS - age);
    const outputs = await bundleOnce(esbuild);
    // A source edited during the build may be missing from it: build again rather than stamp it fresh.
    if (newestSourceMtime() !== newest) continue;
    const written = new Set();
    for (const output of outputs) {
      // deploy.ts's `#!/bin/sh` preamble is carried over; the bundle is package.json's `bin`, run by node itself.
      const isEntry = output.path === path.join(DIST_DIR, 'deploy.mjs');
      writeAtomically(output.path, isEntry ? output.text.replace(/^#!.*\n/, '#!/usr/bin/env node\n') : output.contents);
      if (isEntry) chmodSync(output.path, 0o755);
      written.add(path.basename(output.path));
    }
    for (const file of COPIED) {
      const target = path.join(DIST_DIR, path.basename(file));
      copyFileSync(path.join(PROJECT_DIR, file), `${target}.${process.pid}.tmp`);
      renameSync(`${target}.${process.pid}.tmp`, target);
      written.add(path.basename(file));
    }
    const stamp = path.join(DIST_DIR, '.stamp');
    for (const file of readdirSync(DIST_DIR)) if (!written.has(file) && file !== '.stamp' && file !== '.build.lock') rmSync(path.join(DIST_DIR, file), { force: true, recursive: true });
    writeAtomically(stamp, `${JSON.stringify({ newestSource: new Date(newest).toISOString(), builtAt: new Date().toISOString() })}\n`);
    // The sources' newest mtime plus 1 ms (utimes rounds to ~µs): only a later edit makes the bundle stale.
    utimesSync(stamp, (newest + 1) / 1000, (newest + 1) / 1000);
    return [...written].sort();
  }
  throw new Error('the sources kept changing during the build; run npm run build again when they are still');
}

// --optional (prepare, pretest): a failed build warns and exits 0, since ./deploy.ts works without the bundle;
// test/e2e/cli-start.test.ts still fails on it.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  bundle().then(
    (files) => console.log(`switchyard: bundled the CLI into dist/ (${files.length} files) in ${Date.now() - started} ms`),
    (error) => {
      console.error(`switchyard: bundling the CLI failed, so ./deploy.ts runs the TypeScript through tsx: ${error.message.split('\n')[0]}`);
      process.exitCode = process.argv.includes('--optional') ? 0 : 1;
    },
  );
}
