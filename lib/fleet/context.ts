import type { FleetConfig } from './config.ts';
import type { FleetOutput } from './output.ts';
import type { Remote } from './remote.ts';

/** What every fleet command's work is handed: its config, the hosts' connection, its output, who runs it. */
export type FleetContext = {
  config: FleetConfig;
  remote: Remote;
  out: FleetOutput;
  user: string;
  env: Record<string, string | undefined>;
  /** Aborted by the operator's Ctrl-C or a SIGTERM: no further batch starts; the reason is the signal's name. */
  signal?: AbortSignal;
};
