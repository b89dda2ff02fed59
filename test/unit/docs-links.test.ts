import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** The anchors a markdown file offers: its headings' slugs (a repeated one gets -1, -2, ...). */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(readFileSync(file, 'utf8')).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Fenced blocks and inline code are not links: blank them, keeping the line count. */
function withoutCode(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, (block) => block.replace(/[^\n]/g, ' ')).replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length));
}

/** Every relative link (and #anchor) in README.md and docs/*.md that leads nowhere, as `file:line: target (why)`. */
export function brokenLinks(root: string): string[] {
  const files = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const broken: string[] = [];
  for (const file of files) {
    const lines = withoutCode(readFileSync(path.join(root, file), 'utf8')).split('\n');
    lines.forEach((line, index) => {
      for (const match of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = match[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [pathPart, anchor] = target.split('#', 2);
        const resolved = pathPart === '' ? path.join(root, file) : path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(pathPart));
        const where = `${file}:${index + 1}: ${target}`;
        if (!resolved.startsWith(root) || !existsSync(resolved)) broken.push(`${where} (no such file)`);
        else if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchorsOf(resolved).has(anchor)) broken.push(`${where} (no heading #${anchor})`);
      }
    });
  }
  return broken;
}

/** Every project file a doc names in inline code (`lib/...`, `templates/...`) that does not exist, as `file: path`. */
export function missingNamedFiles(root: string): string[] {
  const files = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
  const missing: string[] = [];
  for (const file of files) {
    const text = readFileSync(path.join(root, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
    for (const match of text.matchAll(/`((?:lib|scripts|templates|harness|test|bench|tools)\/[^`\s]*)`/g)) {
      if (!existsSync(path.join(root, match[1]))) missing.push(`${file}: ${match[1]}`);
    }
  }
  return missing;
}

describe('the docs', () => {
  it('every relative link in README.md and docs/*.md names a file that exists, and a heading that exists in it', () => {
    expect(brokenLinks(PROJECT)).toEqual([]);
  });

  it('the check names each broken link, wrong heading and missing named file (a small tree of its own)', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'switchyard-links-'));
    try {
      mkdirSync(path.join(root, 'docs'));
      writeFileSync(path.join(root, 'README.md'), '# Set up a host\n[ok](docs/a.md#the-apps-files) [bad](docs/b.md) [anchor](#set-up-a-host) `[not](a-link.md)`\n');
      writeFileSync(path.join(root, 'docs', 'a.md'), "## The app's files\n[up](../README.md#nowhere) [wrong](../a.md) see `lib/gone.ts`\n```\n[in code](x.md)\n```\n");
      expect(brokenLinks(root)).toEqual(['README.md:2: docs/b.md (no such file)', 'docs/a.md:2: ../README.md#nowhere (no heading #nowhere)', 'docs/a.md:2: ../a.md (no such file)']);
      expect(missingNamedFiles(root)).toEqual(['docs/a.md: lib/gone.ts']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('every project file they name in inline code exists', () => {
    expect(missingNamedFiles(PROJECT)).toEqual([]);
  });
});
