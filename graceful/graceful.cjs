// switchyard-graceful: drain an http.Server on SIGTERM without failing a single request,
// even when a proxy (nginx) holds keep-alive connections to it.
// The one implementation: CommonJS so that require() works on Node 18; index.js re-exports it for import.
//
// Call graceful() right after creating the server and before listen(): sockets are tracked
// from their 'connection' event. A socket accepted earlier is picked up at its next request;
// one that stays silent is not idle-closed and only goes away when its peer closes it or at `timeout`.
'use strict';
const net = require('node:net');

// A WebSocket close frame from the server (unmasked): FIN + opcode 8, the status code, a short reason.
function closeFrame(/** @type {number} */ code, /** @type {string} */ reason) {
  const text = Buffer.from(reason.slice(0, 100));
  const frame = Buffer.alloc(4 + text.length);
  frame[0] = 0x88;
  frame[1] = 2 + text.length;
  frame.writeUInt16BE(code, 2);
  text.copy(frame, 4);
  return frame;
}
const isEventStream = (/** @type {unknown} */ type) => /^\s*text\/event-stream/i.test(String(type ?? ''));

/** A header's value among writeHead's arguments (an object, or a flat [name, value, ...] array), if given there. @param {any[]} args @param {string} name */
function headerArgument(args, name) {
  const headers = args.find((a) => typeof a === 'object' && a !== null);
  if (!headers) return undefined;
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return headers[i + 1];
    return undefined;
  }
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

const defaultLog = (/** @type {string} */ line) => process.stderr.write(`[graceful] ${line}\n`);
const notConnection = (/** @type {unknown} */ name) => String(name).toLowerCase() !== 'connection';

/** @param {any[]} args the arguments of writeHead after the status code */
function withoutConnectionHeader(args) {
  const i = args.findIndex((a) => typeof a === 'object' && a !== null);
  if (i === -1) return args;
  const headers = args[i];
  const copy = [...args];
  copy[i] = Array.isArray(headers) // flat [name, value, name, value, ...]
    ? headers.filter((_, j) => notConnection(headers[j - (j % 2)]))
    : Object.fromEntries(Object.entries(headers).filter(([name]) => notConnection(name)));
  return copy;
}

/**
 * @param {import('node:http').Server | { server: import('node:http').Server }} target
 * @param {import('./graceful.cjs').GracefulOptions} [options]
 * @returns {import('./graceful.cjs').GracefulController}
 */
function graceful(target, options = {}) {
  const server = target instanceof net.Server ? target : /** @type {any} */ (target)?.server;
  if (!(server instanceof net.Server)) {
    throw new TypeError('graceful(): expected an http.Server or an object whose .server is one');
  }
  const {
    timeout = 10_000,
    signals = ['SIGTERM', 'SIGINT'],
    healthPath,
    idleClose = 2_000,
    exit = true,
    log = defaultLog,
    onShutdown,
    closeCode = 1001,
    closeGrace = 2_000,
  } = options;

  /** @type {Map<net.Socket, { inFlight: number, idleSince: number }>} */
  const conns = new Map();
  // Long-lived: sockets taken over by an upgrade (WebSocket through ws, socket.io or a handler of the
  // app's own), and SSE responses. Closed at the start of the drain: they never end by themselves.
  /** @type {Map<net.Socket, boolean>} socket -> whether it is a WebSocket */
  const upgraded = new Map();
  /** @type {Set<import('node:http').ServerResponse>} */
  const streams = new Set();
  let draining = false;
  /** @type {Promise<void> | undefined} */
  let drainPromise;

  const track = (/** @type {net.Socket} */ socket) => {
    let conn = conns.get(socket);
    if (!conn) {
      conn = { inFlight: 0, idleSince: Date.now() };
      conns.set(socket, conn);
      socket.once('close', () => conns.delete(socket));
    }
    return conn;
  };
  server.on('connection', track);

  // Wrapping emit (rather than adding a listener) lets the health check answer 503
  // without the app's own handler also trying to respond.
  const emit = server.emit;
  server.emit = function (/** @type {string | symbol} */ event, /** @type {any[]} */ ...args) {
    if (event === 'request' && onRequest(args[0], args[1])) return true;
    if (event === 'upgrade') onUpgrade(args[0], args[1]);
    return emit.call(this, /** @type {any} */ (event), ...args);
  };

  /** @param {import('node:http').IncomingMessage} req @param {net.Socket} socket */
  function onUpgrade(req, socket) {
    track(socket);
    upgraded.set(socket, String(req.headers.upgrade ?? '').toLowerCase() === 'websocket');
    socket.once('close', () => upgraded.delete(socket));
    if (draining) socket.destroy(); // the listener is closed already; a late upgrade is refused like a connection
  }

  /** Tell a WebSocket client to reconnect (close frame), or end another upgraded stream; destroyed after closeGrace if the peer stays. */
  function closeUpgraded(/** @type {net.Socket} */ socket, /** @type {boolean} */ websocket) {
    // bytesWritten 0: the handshake's 101 is not out yet, so there is no WebSocket to close politely.
    if (websocket && socket.bytesWritten > 0 && socket.writable) socket.write(closeFrame(closeCode, 'server shutting down'));
    else socket.end();
    setTimeout(() => socket.destroy(), closeGrace).unref();
  }

  /** End an SSE response: the client's EventSource reconnects. A write of the app's after it is dropped, not thrown. */
  function endStream(/** @type {import('node:http').ServerResponse} */ res) {
    res.on('error', () => {});
    res.end();
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  function onRequest(req, res) {
    const conn = track(req.socket);
    conn.inFlight++;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      conn.inFlight--;
      conn.idleSince = Date.now();
    };
    res.once('finish', done);
    res.once('close', done);
    res.once('close', () => streams.delete(res));

    // Checked when the headers are written, not when the request arrives, so responses
    // that were already in flight at SIGTERM also tell the proxy not to reuse the socket.
    const writeHead = res.writeHead;
    res.writeHead = /** @type {any} */ (function (/** @type {number} */ status, /** @type {any[]} */ ...rest) {
      if (draining && !res.headersSent) {
        res.setHeader('Connection', 'close'); // also makes node close the socket after this response
        rest = withoutConnectionHeader(rest);
      }
      const result = writeHead.call(res, status, ...rest);
      if (isEventStream(headerArgument(rest, 'content-type') ?? res.getHeader('content-type'))) {
        if (draining) setImmediate(endStream, res);
        else streams.add(res);
      }
      return result;
    });

    if (draining && healthPath !== undefined && req.url?.split('?')[0] === healthPath) {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('draining');
      return true;
    }
    return false;
  }

  const onSignal = (/** @type {string} */ signal) => void shutdown(signal);
  for (const signal of signals) process.on(signal, onSignal);

  /** @param {string} [reason] */
  function shutdown(reason = 'shutdown') {
    if (drainPromise) {
      log(`${reason}: drain already in progress`);
      return drainPromise;
    }
    draining = true;
    return (drainPromise = drain(reason));
  }

  /** @param {string} reason */
  async function drain(reason) {
    const started = Date.now();
    // http.Server#close() would also close idle keep-alive sockets right now (Node >= 19),
    // racing a proxy that is writing a request on one: nginx answers such a POST with 502.
    // net's close only stops listening; its callback runs once every connection has ended.
    const allClosed = new Promise((resolve) => net.Server.prototype.close.call(server, () => resolve('drained')));
    // Logged only now, so whoever reads it knows new connections are already refused.
    const websockets = [...upgraded.values()].filter(Boolean).length;
    log(`${reason}: draining, ${conns.size} connection(s) open${upgraded.size || streams.size ? ` (${websockets} WebSocket(s) closed with ${closeCode}, ${upgraded.size - websockets} other upgrade(s) and ${streams.size} SSE stream(s) ended)` : ''}`);
    // Long-lived connections never end on their own: end them now, so their clients reconnect (to the new slot) at once.
    for (const [socket, websocket] of upgraded) closeUpgraded(socket, websocket);
    for (const res of streams) endStream(res);
    streams.clear();

    // A proxy with a shorter upstream keepalive_timeout closes idle sockets itself first;
    // a client that lingers is cut off once it has been idle for idleClose.
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [socket, conn] of conns) {
        if (conn.inFlight === 0 && !upgraded.has(socket) && now - conn.idleSince >= idleClose) socket.destroy();
      }
    }, Math.min(250, Math.max(10, idleClose / 4)));

    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const forced = new Promise((resolve) => (timer = setTimeout(resolve, timeout, 'forced')));
    const drained = (async () => {
      try {
        await onShutdown?.();
      } catch (err) {
        log(`onShutdown failed: ${err instanceof Error ? err.stack : err}`);
      }
      return allClosed;
    })();
    const outcome = await Promise.race([drained, forced]);
    clearInterval(sweep);
    clearTimeout(timer);
    for (const signal of signals) process.off(signal, onSignal);

    if (outcome === 'forced') {
      log(`forced exit after ${timeout}ms: ${conns.size} connection(s) still open`);
      for (const socket of conns.keys()) socket.destroy();
      if (exit) process.exit(1);
    } else {
      log(`drained in ${Date.now() - started}ms, exiting`);
      if (exit) process.exit(0);
    }
  }

  return {
    get draining() {
      return draining;
    },
    shutdown,
  };
}

exports.graceful = graceful;
