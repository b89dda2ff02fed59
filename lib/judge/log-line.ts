/**
 * One line of the site's judging access log, as nginx sends it over syslog: `<190>Dec  6 02:11:37
 * switchyard_app: j1 502 0.004 0.001, 0.003 @ 127.0.0.1:3001, 127.0.0.1:3002`, i.e. the log_format
 * `j1 $status $request_time $upstream_response_time @ $upstream_addr` (lib/traffic/nginx-site.ts).
 * A request nginx retried on the other server lists every address tried: the last one answered. Pure.
 */

export const LOG_FORMAT_VERSION = 'j1';
/** The log_format's text; the address goes last: unix socket paths may hold spaces. */
export const LOG_FORMAT = `${LOG_FORMAT_VERSION} $status $request_time $upstream_response_time @ $upstream_addr`;

export type LogLine = {
  /** The upstream address that gave the answer (`127.0.0.1:3001`, `unix:/srv/app/sockets/b1.sock`). */
  address: string;
  status: number;
  /** That upstream's response time in ms; null when it gave none (nginx answered 502 itself). */
  upstreamMs: number | null;
};

const LINE = /: j1 (\d{3}) (\S+) (.*?) @ (.+)$/;

/** The line's facts, or undefined for a line that is not one (another format, a request nginx answered alone). */
export function parseLogLine(text: string): LogLine | undefined {
  const match = LINE.exec(text.trimEnd());
  if (!match) return undefined;
  const address = lastOf(match[4]);
  if (!address || address === '-') return undefined;
  const seconds = Number(lastOf(match[3]));
  return { address, status: Number(match[1]), upstreamMs: match[3] !== '-' && Number.isFinite(seconds) && lastOf(match[3]) !== '-' ? Math.round(seconds * 1000 * 10) / 10 : null };
}

/** The last of nginx's list (`a, b` between servers of one group, `a : b` across an internal redirect). */
function lastOf(list: string): string {
  return list.split(/, | : /).at(-1)?.trim() ?? '';
}
