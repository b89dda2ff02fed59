/**
 * Which server blocks claim which host name on which port, read from `nginx -T`, so doctor can say
 * when another site (another app's, Debian's default) claims the same name and port as ours: nginx
 * then serves that name from the first one it read and only warns ("conflicting server name"). Pure.
 */

export type ServerClaim = { file: string; listens: string[]; names: string[] };

/** `nginx -T` prints every file as `# configuration file <path>:` and its text; split it back into files. */
export function configSections(dump: string): { file: string; text: string }[] {
  const parts = dump.split(/^# configuration file (.+):$/m);
  const sections: { file: string; text: string }[] = [];
  for (let i = 1; i < parts.length; i += 2) sections.push({ file: parts[i], text: parts[i + 1] ?? '' });
  return sections;
}

const withoutComments = (text: string) => text.replace(/#[^\n]*/g, '');

/** The server blocks of one file's text: their listen addresses and server names. */
export function serverClaims(file: string, text: string): ServerClaim[] {
  const source = withoutComments(text);
  const claims: ServerClaim[] = [];
  const opener = /\bserver\s*\{/g;
  let match: RegExpExecArray | null;
  while ((match = opener.exec(source))) {
    let depth = 1;
    let at = match.index + match[0].length;
    const start = at;
    while (at < source.length && depth > 0) {
      if (source[at] === '{') depth++;
      else if (source[at] === '}') depth--;
      at++;
    }
    // Only the block's own directives: nested blocks (location, if) are cut out.
    let body = source.slice(start, at - 1);
    while (/\{[^{}]*\}/.test(body)) body = body.replace(/\{[^{}]*\}/g, ';');
    const directives = body.split(';').map((line) => line.trim().split(/\s+/));
    const listens = directives.filter((words) => words[0] === 'listen').map((words) => normalizeListen(words[1] ?? '80'));
    const names = directives.filter((words) => words[0] === 'server_name').flatMap((words) => words.slice(1));
    claims.push({ file, listens: listens.length ? listens : ['*:80'], names: names.length ? names : [''] });
    opener.lastIndex = at;
  }
  return claims;
}

/** `80` → `*:80`, `127.0.0.1:8080` as it is, `[::]:80` as it is. */
export function normalizeListen(listen: string): string {
  if (/^\d+$/.test(listen)) return `*:${listen}`;
  if (/^unix:/.test(listen)) return listen;
  if (!/:\d+$/.test(listen)) return `${listen}:80`;
  return listen;
}

const port = (listen: string) => listen.split(':').pop();
const sameSocket = (a: string, b: string) => port(a) === port(b) && (a === b || a.startsWith('*:') || b.startsWith('*:'));

/** Other server blocks that claim one of our site's names on one of its listen addresses: `file: name on listen` each. */
export function conflictingClaims(dump: string, ourSiteMarker: string): string[] {
  const sections = configSections(dump);
  const ours = sections.filter((section) => section.text.includes(ourSiteMarker));
  if (ours.length === 0) return [];
  const oursClaims = ours.flatMap((section) => serverClaims(section.file, section.text));
  const others = sections.filter((section) => !ours.includes(section)).flatMap((section) => serverClaims(section.file, section.text));
  const conflicts = new Set<string>();
  for (const mine of oursClaims) {
    for (const other of others) {
      for (const listen of mine.listens) {
        if (!other.listens.some((theirs) => sameSocket(listen, theirs))) continue;
        for (const name of mine.names) if (other.names.includes(name)) conflicts.add(`${other.file} claims ${name === '' ? '""' : name} on ${listen} too`);
      }
    }
  }
  return [...conflicts];
}
