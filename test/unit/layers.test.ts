import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers docs/architecture.md draws, held against the imports: a file under lib/ imports only
 * from its own layer and the layers below it, and no files import each other in a circle. The table
 * is read from the page itself, so the drawing and the check cannot drift apart.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

type Layer = { rank: number; place: string };

/** `| 3 | \`lib/cli/reporter.ts\`, \`lib/config/\` |` rows of the "Layers" section. */
function layersFromDocs(): Layer[] {
  const page = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
  const section = page.split(/^## /m).find((part) => part.startsWith('Layers'));
  if (!section) throw new Error('docs/architecture.md has no "## Layers" section');
  const layers: Layer[] = [];
  for (const row of section.matchAll(/^\| (\d+) \| (.+) \|$/gm)) {
    for (const place of row[2].matchAll(/`([^`]+)`/g)) layers.push({ rank: Number(row[1]), place: place[1] });
  }
  return layers;
}

/** The layer of a file: the most specific place that holds it (a file named in the table over its folder). */
function rankOf(file: string, layers: Layer[]): number | undefined {
  const holding = layers.filter(({ place }) => (place.endsWith('/') ? file.startsWith(place) : file === place));
  return holding.sort((a, b) => b.place.length - a.place.length)[0]?.rank;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mjs)$/.test(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));
}

/** Relative imports and re-exports of a file, as repository paths; `import type` included: a type is a dependency too. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms)].map((match) => match[1]);
  return specifiers.map((specifier) => path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), specifier)));
}

/** Every circle of imports among `files`, each as the list of files on it (Tarjan's strongly connected components). */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('layers (docs/architecture.md)', () => {
  const layers = layersFromDocs();
  const files = sourceFiles('lib');

  it('places every file under lib/ in a layer', () => {
    expect(layers.length).toBeGreaterThan(5);
    expect(files.filter((file) => rankOf(file, layers) === undefined)).toEqual([]);
  });

  it('has no import that points to a higher layer', () => {
    const upward: string[] = [];
    for (const file of files) {
      const rank = rankOf(file, layers)!;
      for (const target of importsOf(file)) {
        const targetRank = rankOf(target, layers);
        if (targetRank !== undefined && targetRank > rank) upward.push(`${file} (layer ${rank}) imports ${target} (layer ${targetRank})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no circle of imports', () => {
    const graph = new Map(files.map((file) => [file, importsOf(file)]));
    expect(circles(graph)).toEqual([]);
  });

  it('finds an upward import and a circle when there is one (the check itself)', () => {
    const demo: Layer[] = [
      { rank: 1, place: 'lib/low/' },
      { rank: 2, place: 'lib/high/' },
      { rank: 2, place: 'lib/low/special.ts' },
    ];
    expect(rankOf('lib/low/a.ts', demo)).toBe(1);
    expect(rankOf('lib/low/special.ts', demo)).toBe(2);
    expect(circles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
  });
});
