/**
 * Every configuration key Switchyard reads, with its default and a one-line description.
 * `.env.example` documents exactly these (a test keeps the two in step).
 */
export type KeySpec = { default?: string; required?: boolean; doc: string };

export const CONFIG_KEYS = {
  APP_NAME: { required: true, doc: 'name of the app: letters, digits, dot, dash, underscore' },
  REPO: { required: true, doc: 'git URL or local path of the repository to deploy' },
  DEPLOY_BRANCH: { default: 'main', doc: 'branch deployed when `deploy` gets no commit' },
  DEPLOY_ROOT: { required: true, doc: 'folder holding the slots, state, lock and logs (relative paths are relative to the .env file)' },
  KEEP_RELEASES: { default: '5', doc: 'how many releases (builds, one per commit) to keep under DEPLOY_ROOT/releases, besides the live one, the other slot\'s and the last good one' },
  PORT_A: { default: '3001', doc: 'port of slot a' },
  PORT_B: { default: '3002', doc: 'port of slot b' },
  HOST: { default: '127.0.0.1', doc: 'bind address passed to the app as HOST' },
  SLOT_LISTEN: { default: 'port', doc: "port: each slot's app listens on its port(s) (PORT_A, PORT_B); socket: on a unix socket under <DEPLOY_ROOT>/sockets instead (PORT and SWITCHYARD_SOCKET hold its path; Node's server.listen(process.env.PORT) works), reachable by nginx's workers only; no TCP port is used" },
  INSTANCES: { default: '1', doc: 'processes per slot: slot a runs PORT_A ... PORT_A+N-1 (or N sockets), slot b from PORT_B; all must be healthy before the switch, nginx balances over them, drain and stop cover them all' },
  INSTALL_CMD: { default: 'npm ci', doc: 'install command, run by /bin/sh in the slot folder (empty to skip)' },
  BUILD_CMD: { default: 'npm run build --if-present', doc: 'build command, run by /bin/sh in the slot folder (empty to skip)' },
  START_CMD: { default: 'npm start', doc: 'command that starts the app, run by /bin/sh with PORT, HOST and SWITCHYARD_SLOT set' },
  HEALTH_PATH: { default: '/health', doc: 'path that must answer 2xx before traffic moves' },
  HEALTH_TIMEOUT: { default: '30s', doc: 'how long the new slot may take to become healthy (seconds or 500ms, 30s, 2m)' },
  STOP_TIMEOUT: { default: '30s', doc: 'bound of each drain wait: at the proxy until nginx has no connection to the old slot, then after SIGTERM before SIGKILL' },
  BAKE_TIME: { default: '5m', doc: 'after a deploy the previous slot keeps running, without traffic, this long: a rollback inside the window is a switch only; 0 turns it off' },
  AUTO_ROLLBACK: { default: 'on', doc: 'during the bake window, on: 3 failed health checks of the new slot in a row move traffic back to the warm previous slot by themselves; off' },
  SWITCH: { default: 'nginx-live-file', doc: 'traffic switch: nginx-live-file (no reload: the site picks the live slot per request from a file; zero failed requests), nginx-reload (rewrite the upstream and reload nginx: each reload may reset a few idle client keep-alive connections), passive (both ports, no reload), command (any load balancer: SWITCH_CMD moves traffic), none' },
  NGINX_UPSTREAM_FILE: { default: '<DEPLOY_ROOT>/nginx/upstream.conf', doc: 'upstream include file Switchyard owns and rewrites' },
  NGINX_TEST_CMD: { default: 'sudo -n nginx -t', doc: 'command that checks the nginx config, run by /bin/sh' },
  NGINX_RELOAD_CMD: { default: 'sudo -n systemctl reload nginx', doc: 'command that reloads nginx, run by /bin/sh' },
  NGINX_PID_FILE: { default: '/run/nginx.pid', doc: "nginx master's pid file: used to wait until workers with the old config have exited" },
  NGINX_LIVE_DIR: { default: '<folder of NGINX_UPSTREAM_FILE>', doc: 'SWITCH=nginx-live-file: folder of the live-a/live-b files the site checks; nginx workers must be able to reach it (Switchyard keeps it 0755 under a 0711 DEPLOY_ROOT)' },
  NGINX_LISTEN: { default: '80', doc: 'the `listen` of the nginx site `./deploy.ts nginx-site` prints: a port, or address:port' },
  NGINX_CHECK_URL: { default: 'http://127.0.0.1[:<port of NGINX_LISTEN>]/__switchyard/health', doc: "URL of the site's check location through nginx; after each switch several consecutive answers must come from the new slot" },
  SWITCH_CMD: { default: '', doc: 'SWITCH=command (required there): command run by /bin/sh, exactly as written, to send traffic to a slot; the facts come in SWITCHYARD_SLOT, SWITCHYARD_PORT(S), SWITCHYARD_PREVIOUS_SLOT, SWITCHYARD_PREVIOUS_PORT(S), SWITCHYARD_APP_NAME' },
  SWITCH_CHECK_CMD: { default: '', doc: 'SWITCH=command, optional: command run by /bin/sh with the same variables after SWITCH_CMD; must exit 0 three times in a row (within max(HEALTH_TIMEOUT, 10s)) once traffic really reaches SWITCHYARD_SLOT' },
  SYSTEMD_SCOPE: { default: 'system', doc: 'PROCESS_MANAGER=systemd: system (sudo -n systemctl) or user (systemctl --user, no sudo)' },
  PROCESS_MANAGER: { default: 'builtin', doc: 'builtin (detached supervisor with restart) or systemd (templates/systemd/APP@.service)' },
  HOOKS_DIR: { default: 'deploy/hooks', doc: 'folder of hook executables (begin, pre_checkout, ..., end, failed), relative to the env file' },
  APP_ENV_FILE: { default: '<DEPLOY_ROOT>/shared/app.env', doc: "the app's own variables (dotenv syntax, created 0600 if missing): given to the app, INSTALL_CMD, BUILD_CMD, hooks and exec; the deploying shell's environment is not (only PATH, HOME, LANG and LC_*)" },
  SHARED_PATHS: { default: '', doc: 'space-separated paths kept under <DEPLOY_ROOT>/shared/ and symlinked into each new build before install (a trailing / means a folder), e.g. `.env uploads/`; relative, no ..' },
  LOG_MAX_SIZE: { default: '10M', doc: "size at which a slot's log is rotated by its supervisor (bytes, or with K, M, G)" },
  LOG_KEEP: { default: '5', doc: 'rotated slot logs kept (<log>.1 ... <log>.N), at least 1' },
  FLEET_HOSTS: { default: '', doc: 'the controller of `./deploy.ts fleet`: SSH destinations of the hosts (an SSH config alias, user@host, ssh://user@host:port), separated by spaces or commas; the host keys above are not needed on the controller' },
  FLEET_SSH_CONFIG: { default: '', doc: 'fleet: file passed to ssh -F (keys, bastions, known_hosts); empty: ssh\'s own ~/.ssh/config' },
  FLEET_REMOTE: { default: 'switchyard/deploy.ts', doc: "fleet: the Switchyard command on each host, run by the login's shell as written (relative to its home)" },
  FLEET_BATCH: { default: '1', doc: 'fleet: hosts changed at a time, N or N% of the fleet (rounded up)' },
  FLEET_ON_FAILURE: { default: 'revert', doc: 'fleet: revert (every host already switched goes back to the release it served, so one version serves) or halt (they are left; fleet status warns of two versions)' },
  FLEET_CHECK_CMD: { default: '', doc: 'fleet, optional: command run by /bin/sh on the controller after each batch (SWITCHYARD_COMMIT, SWITCHYARD_HOSTS set), e.g. a check through the front balancer; non-zero fails the rollout' },
  FLEET_STRATEGY: { default: 'rolling', doc: 'fleet: rolling (batches of FLEET_BATCH) or blue-green (deploy the idle group, then FLEET_SWITCH_CMD)' },
  FLEET_GROUP_A: { default: '', doc: 'fleet, blue-green: the hosts of group A (names as in FLEET_HOSTS)' },
  FLEET_GROUP_B: { default: '', doc: 'fleet, blue-green: the hosts of group B' },
  FLEET_SWITCH_CMD: { default: '', doc: 'fleet, blue-green (required there): command run by /bin/sh as written that sends traffic to a group; the facts come in SWITCHYARD_GROUP, SWITCHYARD_HOSTS, SWITCHYARD_PREVIOUS_GROUP, SWITCHYARD_PREVIOUS_HOSTS, SWITCHYARD_COMMIT' },
  FLEET_SWITCH_CHECK_CMD: { default: '', doc: 'fleet, blue-green, optional: command run after FLEET_SWITCH_CMD with the same variables; must pass 3 times in a row (bounded) or the switch is run back' },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export const KNOWN_KEYS = Object.keys(CONFIG_KEYS) as ConfigKey[];
