#!/bin/sh
# SWITCH_CMD for HAProxy: send new requests to server $SWITCHYARD_SLOT of the backend and none to the
# other slot's server, through the runtime API (no reload, so no client connection is closed).
#   SWITCH=command
#   SWITCH_CMD=HAPROXY_SOCKET=/run/haproxy/myapp.sock HAPROXY_BACKEND=myapp /srv/myapp/haproxy/switch.sh
# The backend's servers are named after the slots, a and b (see haproxy.cfg). The new server is made
# ready first, then the old one goes to maint: from that instant it gets no new request, while the
# requests it already has run to their end (maint never cuts a running request); Switchyard then waits
# until the old port has no established connection before it sends SIGTERM.
set -eu
socket=${HAPROXY_SOCKET:-/run/haproxy/admin.sock}
backend=${HAPROXY_BACKEND:-app}
tool="$(dirname "$0")/haproxy-tool.mjs"
case "${SWITCHYARD_SLOT:-}" in
  a) other=b ;;
  b) other=a ;;
  *) echo "switch.sh: SWITCHYARD_SLOT must be a or b, got '${SWITCHYARD_SLOT:-}' (run it as SWITCH_CMD)" >&2; exit 2 ;;
esac
node "$tool" api "$socket" "set server $backend/$SWITCHYARD_SLOT state ready"
# The other slot's server, whether or not it was live (a first deploy, a recovery): only one gets traffic.
node "$tool" api "$socket" "set server $backend/$other state maint"
echo "haproxy $backend: server $SWITCHYARD_SLOT (port $SWITCHYARD_PORT) ready, server $other in maint"
