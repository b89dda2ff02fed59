/**
 * The canary's share of users, as nginx sees it: 100 buckets (00-99, templates/nginx/site.conf), a
 * share of N % is the buckets 00 .. N-1. Growing the share only adds buckets, so a user on the
 * canary stays on it through every step. Pure.
 */

export const BUCKETS = 100;

/** `5%`, `5` or `0` (off) as a whole percentage 0-100; undefined when it is none. */
export function parseShare(text: string): number | undefined {
  const match = /^\s*(\d{1,3})\s*%?\s*$/.exec(text);
  if (!match) return undefined;
  const share = Number(match[1]);
  return share <= 100 ? share : undefined;
}

/** `5% 25% 50%` (spaces or commas): rising shares each below 100; undefined when they are not. */
export function parseSteps(text: string): number[] | undefined {
  const words = text.split(/[\s,]+/).filter(Boolean);
  const shares = words.map(parseShare);
  if (shares.some((share) => share === undefined || share === 0 || share >= 100)) return undefined;
  const rising = (shares as number[]).every((share, index, all) => index === 0 || share > all[index - 1]);
  return rising ? (shares as number[]) : undefined;
}

/** The steps of one canary: its first share, then the configured steps above it. */
export function canarySteps(first: number, steps: readonly number[]): number[] {
  return [first, ...steps.filter((share) => share > first)];
}

export function bucketName(index: number): string {
  return String(index).padStart(2, '0');
}

/** The buckets a share sends to the canary slot. */
export function bucketsFor(share: number): string[] {
  return Array.from({ length: Math.max(0, Math.min(BUCKETS, share)) }, (_, index) => bucketName(index));
}

/** The split_clients lines of the site: 99 buckets of 1 % and the rest. */
export function splitClientsLines(): string {
  const lines = Array.from({ length: BUCKETS - 1 }, (_, index) => `    1% ${bucketName(index)};\n`);
  return `${lines.join('')}    * ${bucketName(BUCKETS - 1)};\n`;
}

export function formatShare(share: number): string {
  return `${share}%`;
}
