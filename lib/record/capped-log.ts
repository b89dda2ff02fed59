import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * A log file of bounded size that keeps what matters of a huge output: its first `headBytes` and
 * its last `tailBytes` (or up to twice that), with one marker line between them saying how much was
 * left out. Each line is written at once (synchronously), so a killed process loses nothing kept.
 */

export const LOG_HEAD_BYTES = 1024 * 1024;
export const LOG_TAIL_BYTES = 1024 * 1024;

export type CappedLog = { write(line: string): void; close(): void };

export function openCappedLog(file: string, options: { headBytes?: number; tailBytes?: number; mode?: number } = {}): CappedLog {
  const headBytes = options.headBytes ?? LOG_HEAD_BYTES;
  const tailBytes = options.tailBytes ?? LOG_TAIL_BYTES;
  let fd: number;
  let size = 0;
  try {
    fd = openSync(file, 'wx+', options.mode ?? 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // The same id again (a second command of this process within the same second): go on at its end.
    fd = openSync(file, 'r+');
    size = fstatSync(fd).size;
  }
  /** Where the tail starts: after the head and the marker, once the head is full. */
  let tailStart: number | undefined;
  let omitted = 0;
  // One line of fixed width, rewritten in place with the growing count.
  const MARKER_WIDTH = 200;
  const marker = () => Buffer.from(`${`[switchyard: ${omitted} bytes of output left out here; a deploy log keeps the first ${headBytes} and the last ${tailBytes} or more]`.padEnd(MARKER_WIDTH - 1, ' ')}\n`);

  const compact = () => {
    // Keep the newest tailBytes of the tail, from a line start, right after the marker.
    const from = size - tailBytes;
    const buffer = Buffer.alloc(size - from);
    readSync(fd, buffer, 0, buffer.length, from);
    const newline = buffer.indexOf(10);
    const kept = newline >= 0 ? buffer.subarray(newline + 1) : buffer;
    omitted += size - tailStart! - kept.length;
    writeSync(fd, kept, 0, kept.length, tailStart!);
    size = tailStart! + kept.length;
    ftruncateSync(fd, size);
    const line = marker();
    writeSync(fd, line, 0, line.length, tailStart! - line.length);
  };

  return {
    write(line) {
      const bytes = Buffer.from(`${line}\n`);
      if (tailStart === undefined && size + bytes.length > headBytes) {
        // The head is full: the marker goes here; the tail begins after it.
        const line = marker();
        writeSync(fd, line, 0, line.length, size);
        size += line.length;
        tailStart = size;
      }
      writeSync(fd, bytes, 0, bytes.length, size);
      size += bytes.length;
      if (tailStart !== undefined && size - tailStart > 2 * tailBytes) compact();
    },
    close() {
      closeSync(fd);
    },
  };
}
