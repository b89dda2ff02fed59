import type { Server } from 'node:http';

export interface GracefulOptions {
  /** Force exit after this many ms of draining (exit code 1, logged with the number of open connections). Default 10000. */
  timeout?: number;
  /** Signals that start the drain. Default ['SIGTERM', 'SIGINT']. */
  signals?: NodeJS.Signals[];
  /** While draining, requests for exactly this path (query string ignored) get 503 `draining` with `Connection: close`. */
  healthPath?: string;
  /** While draining, a keep-alive socket with no request in progress is closed once idle this many ms since its last response. Default 2000. */
  idleClose?: number;
  /** Call process.exit(0) when drained, process.exit(1) when forced. When false, shutdown() just resolves. Default true. */
  exit?: boolean;
  /** Receives one line per event (no trailing newline). Default: writes `[graceful] <line>` to stderr. */
  log?: (line: string) => void;
  /** Runs after the listener is closed, before waiting for open connections (e.g. close a DB pool). Errors are logged, not thrown. */
  onShutdown?: () => void | Promise<void>;
  /** At the start of the drain every WebSocket (ws, socket.io, an upgrade handled by the app) gets a close frame with this code: 1001 going away (default) or 1012 service restart. Other upgrades are ended. */
  closeCode?: number;
  /** ms an upgraded socket may stay after its close frame before it is destroyed. Default 2000. */
  closeGrace?: number;
}

export interface GracefulController {
  /** True from the moment a signal arrives or shutdown() is called. */
  readonly draining: boolean;
  /**
   * Start draining (same as receiving a signal). Calling it again returns the same promise.
   * Resolves when every connection has closed or `timeout` forced them closed
   * (when `exit` is true the process exits first).
   */
  shutdown(reason?: string): Promise<void>;
}

/** An http.Server (what Express's app.listen() returns), or an object holding one as `.server` (a Fastify instance). */
export type GracefulTarget = Server | { server: Server };

/** Call right after creating the server, before listen(), so every connection is tracked. */
export function graceful(server: GracefulTarget, options?: GracefulOptions): GracefulController;
