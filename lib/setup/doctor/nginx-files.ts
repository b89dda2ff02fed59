import { accessSync, constants, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { commandLine, readPidFile } from '../../host/process.ts';

/**
 * The files a running nginx parses as configuration, found without nginx (so without sudo): the
 * master's -c (and -p) from /proc, then every `include`, globs expanded, recursively.
 */

/** `-p` and `-c` of an nginx master's command line (`nginx: master process /usr/sbin/nginx -p X -c Y`). Pure. */
export function parseMasterCommandLine(cmdline: string): { binary?: string; prefix?: string; conf?: string } {
  const words = cmdline.replace(/^nginx: master process\s+/, '').trim().split(/\s+/);
  const after = (flag: string) => (words.includes(flag) ? words[words.indexOf(flag) + 1] : undefined);
  return { binary: words[0]?.startsWith('/') ? words[0] : undefined, prefix: after('-p'), conf: after('-c') };
}

/** The targets of the `include` directives in nginx configuration text, comments removed. Pure. */
export function includesOf(text: string): string[] {
  const code = text.replace(/#[^\n]*/g, '');
  return [...code.matchAll(/(?<=^|[;{}\s])include\s+("[^"]*"|'[^']*'|[^;\s]+)\s*;/g)].map((match) => match[1].replace(/^["']|["']$/g, ''));
}

/** A glob's matches (wildcards in the last part only, as nginx's includes use them), sorted. */
function expand(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const dir = path.dirname(pattern);
  const regex = new RegExp(`^${path.basename(pattern).replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  try {
    return readdirSync(dir).filter((name) => regex.test(name)).sort().map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

export type NginxFiles = { main: string; files: string[]; unreadable: string[]; dump: string };

/** nginx's configuration files, from the master in `pidFile` (else /etc/nginx/nginx.conf); undefined when there is no main file to read. */
export function readNginxFiles(pidFile: string): NginxFiles | undefined {
  const master = readPidFile(pidFile);
  const line = master === undefined ? undefined : commandLine(master);
  const parsed = line ? parseMasterCommandLine(line) : {};
  const prefix = parsed.prefix ?? '/etc/nginx';
  const main = parsed.conf ? path.resolve(prefix, parsed.conf) : '/etc/nginx/nginx.conf';
  if (!existsSync(main)) return undefined;
  const base = path.dirname(main);
  const files: string[] = [];
  const unreadable: string[] = [];
  let dump = '';
  const visit = (file: string) => {
    if (files.includes(file) || unreadable.includes(file)) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      unreadable.push(file);
      return;
    }
    files.push(file);
    dump += `# configuration file ${file}:\n${text}\n`;
    for (const target of includesOf(text)) for (const each of expand(path.resolve(base, target))) visit(each);
  };
  visit(main);
  return { main, files, unreadable, dump };
}

/**
 * How this user could change what nginx parses from `file`: write it, or replace it or a folder
 * above it (write permission on the folder holding it, unless that folder is sticky and the entry
 * is not ours). [] when there is none. Reads only; meaningless for root, who can do all of it.
 */
export function waysToRewrite(file: string, uid: number = process.getuid?.() ?? 0): string[] {
  const ways: string[] = [];
  if (mayWrite(file)) ways.push(`can write ${file}`);
  for (let entry = path.resolve(file); path.dirname(entry) !== entry; entry = path.dirname(entry)) {
    const folder = path.dirname(entry);
    if (!mayWrite(folder)) continue;
    let sticky = false;
    let ours = false;
    try {
      sticky = (lstatSync(folder).mode & 0o1000) !== 0;
      ours = lstatSync(entry).uid === uid;
    } catch {
      // An entry that is gone: whoever may write the folder may create it.
    }
    if (!sticky || ours) ways.push(`can replace ${entry} (may write ${folder})`);
  }
  return ways;
}

function mayWrite(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
