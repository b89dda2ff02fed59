#!/bin/sh
# SWITCH_CMD for HAProxy: send new requests to server $SWITCHYARD_SLOT of the backend and none to the
# other slot's server, through the runtime API (no reload, so no client connection is closed).
#   SWITCH=command
#   SWITCH_CMD=HAPROXY_SOCKET=/run/haproxy/myapp.sock HAPROXY_BACKEND=myapp /srv/myapp/haproxy/switch.sh
# The backend's servers are named after the slots, a and b (see haproxy.cfg); with INSTANCES=N, a slot's
# servers are a, a2 ... aN (the names of its processes, myapp-a, myapp-a.2 ...). The new servers are made
# ready first, then the old one goes to maint: from that instant it gets no new request, while the
# requests it already has run to their end (maint never cuts a running request); Switchyard then waits
# until the old port has no established connection before it sends SIGTERM.
set -eu
. "$(dirname "$0")/slots.sh"
# One runtime API line, its commands run in order: the new slot's servers ready, then the other slot's
# servers (whether or not it was live: a first deploy, a recovery) in maint, so only one slot gets traffic.
commands=""
for server in $(servers "$SWITCHYARD_SLOT"); do commands="$commands${commands:+; }set server $backend/$server state ready"; done
for server in $(servers "$other"); do commands="$commands${commands:+; }set server $backend/$server state maint"; done
node "$tool" api "$socket" "$commands"
echo "haproxy $backend: slot $SWITCHYARD_SLOT's server(s) ready (port(s) $SWITCHYARD_PORTS), slot $other's in maint"
