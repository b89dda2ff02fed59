// example-app: the HTTP app switchyard deploys in its demo and tests. No dependencies.
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

// PORT is a port number, or a unix socket's path when Switchyard runs the slots on sockets (SLOT_LISTEN=socket).
const socketPath = process.env.SWITCHYARD_SOCKET;
const port = Number(process.env.PORT);
if (!socketPath && (!process.env.PORT || !Number.isInteger(port) || port < 0 || port > 65535)) {
  console.error(`example-app: PORT must be set to a port number (got ${JSON.stringify(process.env.PORT ?? null)})`);
  process.exit(1);
}
const host = process.env.HOST || '127.0.0.1';
const version = readFileSync(new URL('./VERSION', import.meta.url), 'utf8').trim();
const slot = process.env.SWITCHYARD_SLOT ?? null;
let draining = false;

// Decided when the response is written, so a request already in flight at SIGTERM also ends its
// connection: Node closes the socket after a `Connection: close` response, and the proxy won't reuse it.
/** @param {string} type */
const headers = (type) => ({ 'Content-Type': type, ...(draining ? { Connection: 'close' } : {}) });

/** @param {http.ServerResponse} res @param {number} status @param {unknown} body */
function json(res, status, body) {
  res.writeHead(status, headers('application/json'));
  res.end(JSON.stringify(body) + '\n');
}

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /') {
    json(res, 200, { version, pid: process.pid, slot });
  } else if (route === 'GET /health') {
    // 503 while draining, so a health check never routes to a stopping instance.
    res.writeHead(draining ? 503 : 200, headers('text/plain')).end(draining ? 'draining' : 'ok');
  } else if (route === 'GET /slow') {
    await sleep(Math.min(5000, Math.max(0, Number(url.searchParams.get('ms')) || 0)));
    json(res, 200, { version });
  } else if (route === 'POST /echo') {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    let echo;
    try {
      echo = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return json(res, 400, { error: 'body must be JSON' });
    }
    json(res, 200, { version, echo });
  } else {
    json(res, 404, { error: 'not found' });
  }
}

const server = http.createServer((req, res) => {
  // e.g. a client aborting mid-body: answer or drop that one request, never crash the process.
  handle(req, res).catch((err) => {
    console.error(`example-app ${version}: ${req.method} ${req.url} failed: ${err?.message ?? err}`);
    if (!res.headersSent) json(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});
// Longer than any proxy's upstream keepalive_timeout: the proxy must be the one to close
// an idle connection, or it may send a request on a socket we are closing.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

// SIGTERM (switchyard, systemd) or SIGINT (pm2, Ctrl-C): stop accepting, finish what is in flight, exit.
/** @param {NodeJS.Signals} signal */
function drain(signal) {
  if (draining) return;
  draining = true;
  // net's close, not http's: http.Server#close() also drops idle keep-alive sockets at once, racing
  // a proxy that is just sending a request on one. The callback runs when every connection has ended.
  net.Server.prototype.close.call(server, () => {
    console.error(`example-app ${version}: drained, exiting`);
    process.exit(0);
  });
  console.error(`example-app ${version}: ${signal}: draining`);
  // Idle sockets are left to the proxy (nginx's upstream keepalive_timeout is 1s); a client idling longer is cut off.
  setInterval(() => server.closeIdleConnections(), 2_000).unref();
  setTimeout(() => {
    console.error(`example-app ${version}: still not drained after 10s, exiting`);
    process.exit(1);
  }, 10_000).unref();
}
process.on('SIGTERM', drain);
process.on('SIGINT', drain);

const bootDelay = Number(process.env.EXAMPLE_BOOT_DELAY_MS) || 0;
if (bootDelay > 0) await sleep(bootDelay);
if (socketPath) server.listen(socketPath, () => console.log(`example-app ${version} listening on ${socketPath} pid ${process.pid}`));
else server.listen(port, host, () => console.log(`example-app ${version} listening on ${host}:${port} pid ${process.pid}`));
