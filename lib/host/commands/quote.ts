/**
 * The one shell quote. A word of only safe characters stays bare (readable in ps, logs and a rendered
 * cron line); any other is single-quoted, each ' written as '\'' so /bin/sh reads it back verbatim.
 * Only configured commands and rendered files ever reach a shell: user input goes in argv arrays. Pure.
 */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
