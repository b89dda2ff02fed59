import { templateFile } from '../project-dir.ts';
import type { Config, SwitchKind } from '../config/config.ts';
import { upstreamName } from './upstream.ts';
import { stickyPathLines, streamBindLine } from './long-lived.ts';
import { LONG_LIVED_SOURCE } from '../slot/connections.ts';
import { splitClientsLines } from '../canary/share.ts';
import { LOG_FORMAT } from '../judge/log-line.ts';

/** The nginx site for a configuration: the template of its switch mode with every placeholder filled in. Pure. */

export type SiteValues = {
  UPSTREAM_FILE: string;
  UPSTREAM_NAME: string;
  LIVE_DIR: string;
  ACCESS_LOG: string;
  LISTEN: string;
  HEALTH_PATH: string;
  SERVER_NAME: string;
  STICKY_PATHS: string;
  STREAM_SOURCE: string;
  STREAM_BIND: string;
  /** The canary's 100 buckets (live-file site only). */
  CANARY_BUCKETS?: string;
  TRAFFIC_LOG_PORT: string;
  JUDGE_FORMAT: string;
  /** HEALTH_PATH without its query: the path nginx compares $uri with. */
  HEALTH_URI: string;
};

/** The template each mode's site comes from; passive and none use the upstream-file site as it is. */
export function siteTemplate(kind: SwitchKind): string {
  const name = kind === 'nginx-live-file' ? 'site.conf' : 'site-reload.conf';
  return templateFile('nginx', name);
}

export function siteValues(config: Config): SiteValues {
  return {
    UPSTREAM_FILE: config.nginx.upstreamFile,
    UPSTREAM_NAME: upstreamName(config.appName),
    LIVE_DIR: config.nginx.liveDir,
    ACCESS_LOG: config.nginx.accessLog ? `access_log ${config.nginx.accessLog};` : '# NGINX_ACCESS_LOG=off: no access log for this site',
    LISTEN: config.nginx.listen,
    HEALTH_PATH: config.healthPath,
    SERVER_NAME: config.nginx.serverName,
    STICKY_PATHS: stickyPathLines(config.nginx.stickyPaths),
    STREAM_SOURCE: LONG_LIVED_SOURCE,
    STREAM_BIND: streamBindLine(config),
    CANARY_BUCKETS: splitClientsLines(),
    TRAFFIC_LOG_PORT: String(config.judge.logPort),
    JUDGE_FORMAT: LOG_FORMAT,
    HEALTH_URI: config.healthPath.split('?')[0],
  };
}

/** Fill in `{{NAME}}` placeholders; one that has no value is an error, never left for nginx to trip on. */
export function renderSite(template: string, values: SiteValues): string {
  const missing = new Set<string>();
  const text = template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) => {
    const value = (values as Record<string, string>)[name];
    if (value === undefined) missing.add(name);
    return value ?? whole;
  });
  if (missing.size > 0) throw new Error(`the nginx site template has placeholders without a value: ${[...missing].join(', ')}`);
  return text;
}
