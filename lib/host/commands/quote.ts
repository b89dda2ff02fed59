/**
 * The one shell quote. A word of only safe characters stays bare (readable in ps and logs) unless
 * `always`: files Switchyard renders and reads back (the post-receive hook, the @reboot line) quote
 * every value, so their own parsers and earlier versions' files agree. Any other word is
 * single-quoted, each ' written as '\'' so /bin/sh reads it back verbatim. Only configured commands
 * and rendered files ever reach a shell: user input goes in argv arrays. Pure.
 */
export function shellQuote(word: string, options: { always?: boolean } = {}): string {
  return !options.always && /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
