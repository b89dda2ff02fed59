import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/**
 * A slot's log as the supervisor rotates it: `<log>` is the newest, then `<log>.1`, `<log>.2`, ...
 * Reading spans the files, so a rotation never hides the lines just before it.
 */

/** The log's files, newest first, as long as they exist. */
export function logSeries(logFile: string, max = 1000): string[] {
  const files = existsSync(logFile) ? [logFile] : [];
  for (let index = 1; index <= max && existsSync(`${logFile}.${index}`); index++) files.push(`${logFile}.${index}`);
  return files;
}

/** The last `count` lines of one file, read backwards in blocks (at most `maxBytes`), so a huge log costs little. */
function fileTail(file: string, count: number, maxBytes: number): string[] {
  if (count <= 0) return [];
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    return linesBefore(fd, fstatSync(fd).size, count, maxBytes);
  } finally {
    closeSync(fd);
  }
}

/** The last `count` non-empty lines of an open file that end before byte `end`. */
function linesBefore(fd: number, end: number, count: number, maxBytes: number): string[] {
  let start = end;
  const blocks: Buffer[] = [];
  let newlines = 0;
  while (start > 0 && end - start < maxBytes && newlines <= count) {
    const length = Math.min(64 * 1024, start);
    start -= length;
    const block = Buffer.alloc(length);
    readSync(fd, block, 0, length, start);
    blocks.unshift(block);
    // Ends of non-empty lines only: empty lines are not shown, so they must not count.
    for (let index = 1; index < block.length; index++) if (block[index] === 10 && block[index - 1] !== 10) newlines++;
  }
  const lines = Buffer.concat(blocks).toString('utf8').split('\n');
  if (start > 0) lines.shift(); // a partial first line
  return lines.filter((line) => line.length > 0).slice(-count);
}

const TAIL_MAX_BYTES = 8 * 1024 * 1024;

/** The last `count` lines across the rotated files, oldest first; empty lines dropped. */
export function readLogTail(logFile: string, count = 20, maxBytes = TAIL_MAX_BYTES): string[] {
  return withOlderLines([], logSeries(logFile), count, maxBytes);
}

/** `newest` (lines already found) with the lines of `files` (newest first) before them, up to `count` in all. */
function withOlderLines(newest: string[], files: string[], count: number, maxBytes: number): string[] {
  const result = [...newest];
  for (const file of files) {
    if (result.length >= count) break;
    result.unshift(...fileTail(file, count - result.length, maxBytes));
  }
  return result.slice(-count);
}

/**
 * The files written after the one with inode `ino`, oldest first, opened at once (an open fd survives
 * later renames): `<log>.K-1` ... `<log>.1`, `<log>`. Undefined while a rotation moves names under us
 * (then the caller looks again), [current] when the file is gone (LOG_KEEP dropped it).
 */
function openNewerFiles(logFile: string, ino: number): number[] | undefined {
  const series = logSeries(logFile);
  const index = series.findIndex((file) => inode(file) === ino);
  const names = index === -1 ? [logFile] : series.slice(0, index).reverse();
  const fds: number[] = [];
  try {
    for (const name of names) fds.push(openSync(name, 'r'));
  } catch {
    for (const fd of fds) closeSync(fd);
    return undefined;
  }
  // Still where it was: no rotation happened between the look and the opens.
  if (index !== -1 && inode(series[index]) !== ino) {
    for (const fd of fds) closeSync(fd);
    return undefined;
  }
  return fds;
}

function inode(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

/**
 * Print the last `tail` lines, then every line appended to the log from then on, across rotations: the
 * open file is read to its end, then every file rotated after it, oldest first, then the new `<log>`,
 * so several rotations between two polls lose nothing. The tail ends where following begins, in the
 * one open file, so a busy app's lines written meanwhile are neither lost nor printed twice. Runs
 * until `signal` aborts. Only whole lines are passed on (a secret split across two writes must reach
 * the redaction whole); a line longer than 64 KiB is passed on in pieces.
 */
export async function followLog(
  logFile: string,
  onLine: (line: string) => void,
  options: { pollMs?: number; signal?: AbortSignal; tail?: number } = {},
): Promise<void> {
  let fd = openSync(logFile, 'r');
  // Start at the beginning of an unfinished last line, not in its middle: a line is only ever printed
  // (and redacted) whole.
  let offset = startOfLastLine(fd, fstatSync(fd).size);
  const tail = options.tail ?? 0;
  if (tail > 0) {
    const newest = linesBefore(fd, offset, tail, TAIL_MAX_BYTES);
    // The rotated files by name: a rotation in this instant can only repeat a line of the tail, never lose one.
    for (const line of withOlderLines(newest, logSeries(logFile).slice(1), tail, TAIL_MAX_BYTES)) onLine(line);
  }
  let partial = '';
  const decoder = new StringDecoder('utf8');
  const drain = () => {
    for (;;) {
      const buffer = Buffer.alloc(1024 * 1024);
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      if (read === 0) return;
      offset += read;
      const lines = (partial + decoder.write(buffer.subarray(0, read))).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > 64 * 1024) {
        lines.push(partial);
        partial = '';
      }
      for (const line of lines) onLine(line);
    }
  };
  try {
    while (!options.signal?.aborted) {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
      drain();
      const open = fstatSync(fd);
      const current = inode(logFile);
      if (current === undefined) continue; // between the rename and the new file
      if (current === open.ino) {
        if (open.size < offset) offset = 0; // truncated in place
        continue;
      }
      const newer = openNewerFiles(logFile, open.ino);
      if (!newer || newer.length === 0) continue;
      drain(); // what was written to it between our read and the rotation
      closeSync(fd);
      for (const [index, next] of newer.entries()) {
        fd = next;
        offset = 0;
        // The supervisor rotates at line ends, so a file's last line is whole; the newest stays open.
        if (index < newer.length - 1) {
          drain();
          closeSync(fd);
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** The offset right after the last newline before `size` (0 when there is none in the last 64 KiB). */
function startOfLastLine(fd: number, size: number): number {
  const length = Math.min(size, 64 * 1024);
  if (length === 0) return size;
  const buffer = Buffer.alloc(length);
  readSync(fd, buffer, 0, length, size - length);
  const newline = buffer.lastIndexOf(0x0a);
  if (newline === length - 1) return size;
  return newline === -1 ? (length === size ? 0 : size) : size - length + newline + 1;
}
