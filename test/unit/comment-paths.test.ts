import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

/** The folders whose comments are read, and the folders of the repository a comment may name. */
const SCANNED = ['lib', 'scripts', 'harness', 'bench', 'test', 'templates'];
const ROOTS = ['lib', 'scripts', 'templates', 'test', 'harness', 'bench', 'docs', 'tools'];
/** Installed or generated, not written here; bench/results holds the records of past runs as they were printed. */
const SKIPPED = new Set(['node_modules', 'dist', '.next', 'bench/results']);
const SCRIPT = /\.(?:[cm]?[jt]s|tsx|jsx)$/;
const NOT_TEXT = /\.(?:json|svg|png|lock|gitignore)$|\/VERSION$/;

type Comment = { line: number; text: string };

/** Every comment of a JavaScript or TypeScript file, found by the compiler's parser, so strings and regexes are not comments. */
function scriptComments(file: string, text: string): Comment[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const seen = new Map<number, Comment>();
  const collect = (ranges: ts.CommentRange[] | undefined) => {
    for (const range of ranges ?? []) {
      if (seen.has(range.pos)) continue;
      seen.set(range.pos, { line: source.getLineAndCharacterOfPosition(range.pos).line + 1, text: text.slice(range.pos, range.end) });
    }
  };
  // A comment lies at some node's start or end: before a closing brace it is the trivia after the last statement's end.
  const visit = (node: ts.Node) => {
    for (const at of [node.pos, node.end]) {
      collect(ts.getLeadingCommentRanges(text, at));
      collect(ts.getTrailingCommentRanges(text, at));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return [...seen.values()].sort((a, b) => a.line - b.line);
}

/** `#` comments of shell scripts, nginx, HAProxy, systemd and sudoers files: a `#` at a line's start or after a blank. */
function hashComments(text: string): Comment[] {
  return text.split('\n').flatMap((line, index) => {
    const match = /(?:^|\s)(#.*)$/.exec(line);
    return match ? [{ line: index + 1, text: match[1] }] : [];
  });
}

/** The comments of one file (a markdown file is all prose: all of it). */
export function commentsOf(file: string, text: string): Comment[] {
  if (file.endsWith('.md')) return text.split('\n').map((line, index) => ({ line: index + 1, text: line }));
  if (SCRIPT.test(file) || /^#!.*\bnode\b/.test(text)) return scriptComments(file, text.replace(/^#!.*/, (line) => ' '.repeat(line.length)));
  return hashComments(text);
}

/**
 * Repository paths in a piece of prose: a root folder, then the rest of a file's or folder's path. `../` before
 * one is a doc's way to the root; any other `/` or word before it makes it part of another path
 * (/srv/app/lib/..., a release's templates/...).
 */
export function pathsIn(text: string): string[] {
  const pathText = String.raw`(?:[\w.*@-]|/|<[^>\s]*>|\{[^}\s]*\})*`;
  const pattern = new RegExp(String.raw`(?:^|[^\w/.$~-]|(?:\.\./)+)((?:${ROOTS.join('|')})/${pathText})`, 'g');
  // Sentence punctuation after a path is not part of it.
  return [...text.matchAll(pattern)].map((match) => match[1].replace(/\.+$/, ''));
}

/** `{a,b}` in a path names each of a and b. */
function expandBraces(candidate: string): string[] {
  const brace = /\{([^}]*)\}/.exec(candidate);
  if (!brace) return [candidate];
  const [before, after] = [candidate.slice(0, brace.index), candidate.slice(brace.index + brace[0].length)];
  return brace[1].split(',').flatMap((choice) => expandBraces(`${before}${choice}${after}`));
}

/** One segment of a path as a regex: `*` any characters, `<name>` a placeholder for at least one. */
function segmentPattern(segment: string): RegExp {
  const parts = segment.split(/(\*|<[^>]*>)/).map((part) => (part === '*' ? '.*' : /^<[^>]*>$/.test(part) ? '.+' : escape(part)));
  return new RegExp(`^${parts.join('')}$`);
}
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const isPattern = (segment: string) => /[*<]/.test(segment);

/** Whether `candidate` names something under `root`: a file or folder; for a glob or placeholder, at least one; for `{a,b}`, each. */
export function pathExists(root: string, candidate: string): boolean {
  return expandBraces(candidate).every((each) => globExists(root, each));
}

function globExists(root: string, candidate: string): boolean {
  const segments = candidate.split('/').filter(Boolean);
  let places = [root];
  for (const segment of segments) {
    const next: string[] = [];
    for (const place of places) {
      if (!isPattern(segment)) {
        if (existsSync(path.join(place, segment))) next.push(path.join(place, segment));
        continue;
      }
      if (!existsSync(place) || !statSync(place).isDirectory()) continue;
      const pattern = segmentPattern(segment);
      for (const entry of readdirSync(place)) if (pattern.test(entry)) next.push(path.join(place, entry));
    }
    places = next;
    if (places.length === 0) return false;
  }
  return true;
}

/** The files whose comments are read: SCANNED folders (recursively), README.md and docs/*.md, relative to root. */
function scannedFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (SKIPPED.has(entry.name) || SKIPPED.has(child)) continue;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && !NOT_TEXT.test(child)) files.push(child);
    }
  };
  for (const folder of SCANNED) if (existsSync(path.join(root, folder))) walk(folder);
  if (existsSync(path.join(root, 'README.md'))) files.push('README.md');
  if (existsSync(path.join(root, 'docs'))) {
    files.push(...readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`));
  }
  return files;
}

/** Each repository path a comment or doc names that does not exist, as `file:line: path`. */
export function stalePaths(root: string): string[] {
  const stale: string[] = [];
  for (const file of scannedFiles(root)) {
    const text = readFileSync(path.join(root, file), 'utf8');
    // Parsing is the slow part: only a file naming a path that does not exist somewhere needs to know where its comments are.
    if (pathsIn(text).every((candidate) => pathExists(root, candidate))) continue;
    for (const comment of commentsOf(file, text)) {
      const lines = comment.text.split('\n');
      lines.forEach((text, offset) => {
        for (const candidate of pathsIn(text)) {
          if (!pathExists(root, candidate)) stale.push(`${file}:${comment.line + offset}: ${candidate}`);
        }
      });
    }
  }
  return stale;
}

describe('paths named in comments and docs', () => {
  it('every repository path a comment in lib/, scripts/, harness/, bench/, test/, templates/, README.md or docs/*.md names exists', () => {
    expect(stalePaths(PROJECT)).toEqual([]);
  });

  it('the check names each stale path, and accepts files, folders, globs and placeholders (a small tree of its own)', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-comment-paths-'));
    try {
      for (const folder of ['lib/cycle/steps', 'test', 'docs', 'templates/nginx']) mkdirSync(path.join(root, folder), { recursive: true });
      for (const file of ['lib/cycle/runner.ts', 'lib/cycle/steps/boot.ts', 'test/faults-early.test.ts', 'templates/nginx/site.conf']) {
        writeFileSync(path.join(root, file), '');
      }
      writeFileSync(
        path.join(root, 'lib/cycle/runner.ts'),
        [
          '// Walks the table (lib/cycle/runner.ts, lib/cycle/steps/<name>.ts, test/faults-*.test.ts), as lib/cycle/steps.ts once did.',
          "const url = 'see lib/gone.ts'; // a string is not a comment: lib/slot/long-lived.ts",
          '/* a block',
          ' * naming lib/cycle/ and lib/missing/ and /srv/app/lib/elsewhere.ts */',
          'const ratio = 4 / 2; // regex-looking division, then lib/{cycle,slot}/runner.ts',
          '',
        ].join('\n'),
      );
      writeFileSync(path.join(root, 'templates/nginx/site.conf'), '# rendered by lib/traffic/site.ts\nlisten 80; # templates/nginx/site.conf\n');
      writeFileSync(path.join(root, 'docs/a.md'), 'See [the runner](../lib/cycle/runner.ts), `lib/cycle/steps/boot.ts` and docs/gone.md.\n');
      expect(stalePaths(root)).toEqual([
        'lib/cycle/runner.ts:1: lib/cycle/steps.ts',
        'lib/cycle/runner.ts:2: lib/slot/long-lived.ts',
        'lib/cycle/runner.ts:4: lib/missing/',
        'lib/cycle/runner.ts:5: lib/{cycle,slot}/runner.ts',
        'templates/nginx/site.conf:1: lib/traffic/site.ts',
        'docs/a.md:1: docs/gone.md',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
