import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';

/** Who owns a file and who may write it, in words for a permission message. */

/** The user name for a uid (from /etc/passwd), or the number when there is none. */
export function userName(uid: number): string {
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.split(':')[2] === String(uid));
    if (line) return line.split(':')[0];
  } catch {
    // No passwd file: the number still says who.
  }
  return `uid ${uid}`;
}

/** The user this process runs as. */
export function currentUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return userName(process.getuid?.() ?? -1);
  }
}

export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/** `owner root, mode 0600`, or undefined when the file cannot even be looked at. */
export function describeOwnership(file: string): { owner: string; mode: string; uid: number } | undefined {
  try {
    const stat = statSync(file);
    return { owner: userName(stat.uid), mode: formatMode(stat.mode), uid: stat.uid };
  } catch {
    return undefined;
  }
}
