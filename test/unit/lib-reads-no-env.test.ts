import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * lib/ never reads the environment itself (docs/architecture.md, "Rules the layout keeps"): the
 * command frame and scripts/ hand it in (CommandIo.env, Config.commandEnv), so a test or a command
 * decides what a child runs with. And lib/ keeps no module-level mutable state (a `let`, a Set or Map
 * filled at run time): what one command learns is handed on as a value, never left behind for the next.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

/** A separate program (its own process, started with the environment it is given), and the doc text that names the variable. */
const MAY_NAME_PROCESS_ENV = new Set(['lib/slot/supervisor.mjs', 'lib/config/keys.ts']);

/** The one execa import a process loads (a memo of a module), and the mirror's auto maintenance a fetch left running. */
const KNOWN_PROCESS_STATE = ['lib/host/run.ts execaModule', 'lib/release/git.ts maintenance'];

function libFiles(dir = 'lib'): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return libFiles(relative);
    return /\.(ts|mjs|js)$/.test(entry.name) ? [relative] : [];
  });
}

const sources = libFiles().map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }));

describe('lib/', () => {
  it('has files to check', () => {
    expect(sources.length).toBeGreaterThan(50);
  });

  it('reads process.env nowhere but in the supervisor, its own program', () => {
    const readers = sources
      .filter(({ file }) => !MAY_NAME_PROCESS_ENV.has(file))
      .flatMap(({ file, text }) => text.split('\n').flatMap((line, index) => (/process\s*\.\s*env\b|process\[['"]env['"]\]/.test(line) ? [`${file}:${index + 1}`] : [])));
    expect(readers).toEqual([]);
  });

  it('names process.env in keys.ts only in doc text (what an app does with PORT), never as code', () => {
    const code = readFileSync(path.join(ROOT, 'lib/config/keys.ts'), 'utf8').split('\n').filter((line) => /process\.env/.test(line));
    for (const line of code) expect(line).toMatch(/doc: ".*process\.env.*"/);
  });

  it('keeps no module-level mutable state (a top-level let) but these, each the same for every command a process runs', () => {
    const globals = sources
      .filter(({ file }) => file !== 'lib/slot/supervisor.mjs')
      .flatMap(({ file, text }) => text.split('\n').flatMap((line) => (/^(export )?let (\w+)/.exec(line) ? [`${file} ${/^(?:export )?let (\w+)/.exec(line)![1]}`] : [])));
    expect(globals.sort()).toEqual([...KNOWN_PROCESS_STATE].sort());
  });
});
