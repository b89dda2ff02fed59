#!/usr/bin/env node
// A small client for HAProxy, for templates/haproxy/switch.sh and check.sh (no socat needed: Node is
// already on a Switchyard host). Exit 0 on success; on failure one line on stderr and exit 1.
//   haproxy-tool.mjs api SOCKET COMMAND...        send a runtime API command line (several commands
//                                                 separated by "; " run in order), print the answer;
//                                                 an answer to `set ...` is an error (success is silent)
//   haproxy-tool.mjs admin-state SOCKET BACKEND SERVER...   print "SERVER STATE" per server, STATE being
//                                                 ready, drain or maint (from one `show servers state`)
//   haproxy-tool.mjs served-by URL                GET URL through HAProxy, print the X-Switchyard-Server header
//   haproxy-tool.mjs group-check SOCKET BACKEND URL "LIVE..." "IDLE..."   templates/fleet/check.sh in one
//                                                 process: the LIVE servers ready, the IDLE ones in maint,
//                                                 then URL answered by one of LIVE (exit 3: it cannot serve)
import http from 'node:http';
import net from 'node:net';

const [action, ...rest] = process.argv.slice(2);
const fail = (message, code = 1) => {
  process.stderr.write(`haproxy-tool: ${message}\n`);
  process.exit(code);
};
// served-by's exit code when what answered cannot serve (refused, reset, a 5xx): FLEET_SWITCH_CHECK_CMD's "switch back at once".
const CANNOT_SERVE = 3;

function api(socket, command) {
  return new Promise((resolve) => {
    let answer = '';
    const connection = net.createConnection(socket, () => connection.end(`${command}\n`));
    connection.setTimeout(5000, () => fail(`no answer from ${socket} to "${command}" within 5s`));
    connection.on('data', (chunk) => (answer += chunk));
    connection.on('end', () => resolve(answer.trim()));
    connection.on('error', (error) => fail(`cannot reach the runtime API at ${socket}: ${error.code ?? error.message} (is "stats socket ${socket} level admin" in haproxy.cfg, and may this user open it?)`));
  });
}

/** "SERVER STATE" of each server of `backend`, ready, drain or maint, from one `show servers state`. */
async function adminStates(socket, backend, servers) {
  const answer = await api(socket, `show servers state ${backend}`);
  // Columns: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
  const rows = answer.split('\n').map((line) => line.trim().split(/\s+/));
  return new Map(servers.map((server) => {
    const row = rows.find((fields) => fields[1] === backend && fields[3] === server);
    if (!row) fail(`no server ${backend}/${server} in "show servers state ${backend}": ${answer.split('\n').at(-1)}`);
    const admin = Number(row[6]);
    // Any maintenance flag (forced, inherited, from config, from DNS, from health) wins over drain.
    return [server, admin & 0x23 ? 'maint' : admin & 0x18 ? 'drain' : 'ready'];
  }));
}

/** The X-Switchyard-Server that answered a GET of `url`; a failure ends the process (exit 3 when it cannot serve). */
function servedBy(url) {
  return new Promise((resolve) => {
    const request = http.get(url, { headers: { connection: 'close' }, timeout: 5000 }, (response) => {
      response.resume();
      const server = response.headers['x-switchyard-server'];
      if (response.statusCode < 200 || response.statusCode >= 300) {
        fail(`${url} answered HTTP ${response.statusCode} (server ${server ?? 'unknown'})`, response.statusCode >= 500 ? CANNOT_SERVE : 1);
      }
      if (!server) fail(`${url} has no X-Switchyard-Server header: add "http-response set-header X-Switchyard-Server %s" to the backend`);
      resolve(server);
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 5s')));
    request.on('error', (error) => fail(`${url}: ${error.code ?? error.message}`, ['ECONNREFUSED', 'ECONNRESET'].includes(error.code) ? CANNOT_SERVE : 1));
  });
}

if (action === 'api') {
  const [socket, ...words] = rest;
  const command = words.join(' ');
  const answer = await api(socket, command);
  if (command.startsWith('set ') && answer) fail(`"${command}": ${answer}`);
  if (answer) process.stdout.write(`${answer}\n`);
} else if (action === 'admin-state') {
  const [socket, backend, ...servers] = rest;
  const states = await adminStates(socket, backend, servers);
  process.stdout.write([...states].map(([server, state]) => `${server} ${state}\n`).join(''));
} else if (action === 'served-by') {
  process.stdout.write(`${await servedBy(rest[0])}\n`);
} else if (action === 'group-check') {
  const [socket, backend, url, liveList = '', idleList = ''] = rest;
  const [live, idle] = [liveList, idleList].map((list) => list.split(/\s+/).filter(Boolean));
  const states = await adminStates(socket, backend, [...live, ...idle]);
  for (const server of live) if (states.get(server) !== 'ready') fail(`${backend}/${server} is not ready`);
  for (const server of idle) if (states.get(server) !== 'maint') fail(`${backend}/${server} is not in maint: it may still get requests`);
  const served = await servedBy(url);
  if (!live.includes(served)) fail(`${url} was answered by ${served}, not by the live group (${live.join(' ')})`);
  process.stdout.write(`haproxy ${backend}: ${url} answered by ${served}, of the live group (${live.join(' ')})\n`);
} else {
  fail('usage: haproxy-tool.mjs api SOCKET COMMAND... | admin-state SOCKET BACKEND SERVER... | served-by URL | group-check SOCKET BACKEND URL LIVE IDLE');
}
