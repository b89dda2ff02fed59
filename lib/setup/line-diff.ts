/** A line diff of two small texts (nginx sites: a few hundred lines), for `nginx-site --diff` and init's refusals. Pure. */

export type LineChange = { kind: ' ' | '-' | '+'; line: string };

function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Every line of `before` and `after` as kept, removed or added, along a longest common subsequence. */
export function lineChanges(before: string, after: string): LineChange[] {
  const a = linesOf(before);
  const b = linesOf(after);
  const common = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const changes: LineChange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      changes.push({ kind: ' ', line: a[i] });
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && common[i + 1][j] >= common[i][j + 1])) changes.push({ kind: '-', line: a[i++] });
    else changes.push({ kind: '+', line: b[j++] });
  }
  return changes;
}

/** How many lines were removed or added. */
export function changedLineCount(before: string, after: string): number {
  return lineChanges(before, after).filter((change) => change.kind !== ' ').length;
}

/** `diff -u` output (hunks with `context` lines around each change); empty when the texts are equal. */
export function unifiedDiff(before: string, after: string, names: { before: string; after: string }, context = 3): string {
  const changes = lineChanges(before, after);
  const changed = changes.flatMap((change, index) => (change.kind === ' ' ? [] : [index]));
  if (changed.length === 0) return '';
  const out = [`--- ${names.before}`, `+++ ${names.after}`];
  let first = 0;
  while (first < changed.length) {
    let last = first;
    while (last + 1 < changed.length && changed[last + 1] - changed[last] <= 2 * context) last++;
    const start = Math.max(0, changed[first] - context);
    const end = Math.min(changes.length, changed[last] + context + 1);
    const counted = (from: number, to: number, kind: '-' | '+') => changes.slice(from, to).filter((change) => change.kind !== (kind === '-' ? '+' : '-')).length;
    const beforeLen = counted(start, end, '-');
    const afterLen = counted(start, end, '+');
    const beforeStart = counted(0, start, '-') + (beforeLen > 0 ? 1 : 0);
    const afterStart = counted(0, start, '+') + (afterLen > 0 ? 1 : 0);
    out.push(`@@ -${beforeStart},${beforeLen} +${afterStart},${afterLen} @@`);
    for (const change of changes.slice(start, end)) out.push(`${change.kind}${change.line}`);
    first = last + 1;
  }
  return `${out.join('\n')}\n`;
}
