import { createHash } from 'node:crypto';
import { changedLineCount, lineChanges } from './line-diff.ts';

/**
 * The nginx site file as Switchyard writes it, stamped with the checksum of what it wrote, so that a
 * later init tells "Switchyard's template changed" (safe to update) from "someone edited it since"
 * (certbot adds its HTTPS lines in place): the latter is never replaced without --force. Pure.
 */

const STAMP = '# switchyard-sha256:';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The file: a comment naming its origin, the stamp line, then the rendered site. */
export function stampedSite(origin: string, body: string): string {
  return `# ${origin}\n${STAMP} ${sha256(body)} of the lines below; ./deploy.ts init --nginx replaces this file only while they are unedited (else with --force)\n${body}`;
}

/** The text after the stamp line (the first or second line) and the checksum it names, or undefined for a file without one. */
function splitStamped(text: string): { hash: string; body: string } | undefined {
  const match = /^(?:.*\n)?# switchyard-sha256: ([0-9a-f]{64})\b.*\n/.exec(text);
  return match ? { hash: match[1], body: text.slice(match[0].length) } : undefined;
}

/**
 * What an installed site is against the one init would write: missing; the same (its body, whatever
 * its comment); Switchyard's own older rendering (unedited); edited since Switchyard wrote it; or
 * foreign (no stamp: written by hand, or by a Switchyard before the stamp, and not its rendering now).
 */
export type SiteOrigin = 'absent' | 'current' | 'stale' | 'edited' | 'foreign';

export function siteOrigin(installed: string | undefined, wanted: string): SiteOrigin {
  if (installed === undefined) return 'absent';
  if (installed === wanted) return 'current';
  const mine = splitStamped(wanted)?.body ?? wanted;
  const stamped = splitStamped(installed);
  if (!stamped) {
    // A Switchyard before the stamp wrote one comment line, then the site.
    return installed.slice(installed.indexOf('\n') + 1) === mine ? 'stale' : 'foreign';
  }
  if (sha256(stamped.body) !== stamped.hash) return 'edited';
  return stamped.body === mine ? 'current' : 'stale';
}

export type SiteAction = 'create' | 'unchanged' | 'update' | 'replace' | 'refuse';

/** Only an unedited file of Switchyard's is updated without --force; --force replaces anything (keeping the old one). */
export function planSiteInstall(origin: SiteOrigin, force: boolean): SiteAction {
  if (origin === 'absent') return 'create';
  if (origin === 'current') return 'unchanged';
  if (origin === 'stale') return 'update';
  return force ? 'replace' : 'refuse';
}

/** How an edited or foreign file differs from what init would write, in a few words for a one-line error. */
export function describeSiteEdits(installed: string, wanted: string): string {
  const count = changedLineCount(installed, wanted);
  const added = lineChanges(wanted, installed).find((change) => change.kind === '+' && change.line.trim() !== '');
  return `${count} line(s) differ from what init would write${added ? `, e.g. ${JSON.stringify(added.line.trim())}` : ''}`;
}
