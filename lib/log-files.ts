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
    const size = fstatSync(fd).size;
    let start = size;
    const blocks: Buffer[] = [];
    let newlines = 0;
    while (start > 0 && size - start < maxBytes && newlines <= count) {
      const length = Math.min(64 * 1024, start);
      start -= length;
      const block = Buffer.alloc(length);
      readSync(fd, block, 0, length, start);
      blocks.unshift(block);
      for (const byte of block) if (byte === 10) newlines++;
    }
    const text = Buffer.concat(blocks);
    const lines = text.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a partial first line
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}

/** The last `count` lines across the rotated files, oldest first; empty lines dropped. */
export function readLogTail(logFile: string, count = 20, maxBytes = 8 * 1024 * 1024): string[] {
  const result: string[] = [];
  for (const file of logSeries(logFile)) {
    if (result.length >= count) break;
    const lines = fileTail(file, count - result.length, maxBytes).filter((line) => line.length > 0);
    result.unshift(...lines);
  }
  return result.slice(-count);
}

/**
 * Print every line appended to the log from now on, across rotations: the open file is read to its
 * end before moving to the new `<log>` (a renamed file stays readable through our fd). Runs until
 * `signal` aborts. Only whole lines are passed on (a secret split across two writes must reach the
 * redaction whole); a line longer than 64 KiB is passed on in pieces.
 */
export async function followLog(logFile: string, onLine: (line: string) => void, options: { pollMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  let fd = openSync(logFile, 'r');
  let offset = fstatSync(fd).size;
  let partial = '';
  let decoder = new StringDecoder('utf8');
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
      let current;
      try {
        current = statSync(logFile);
      } catch {
        continue; // between the rename and the new file
      }
      const open = fstatSync(fd);
      if (current.ino !== open.ino || current.dev !== open.dev) {
        drain();
        if (partial) onLine(partial);
        partial = '';
        decoder = new StringDecoder('utf8');
        closeSync(fd);
        fd = openSync(logFile, 'r');
        offset = 0;
      } else if (open.size < offset) {
        offset = 0; // truncated in place
      }
    }
  } finally {
    closeSync(fd);
  }
}
