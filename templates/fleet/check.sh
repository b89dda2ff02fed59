#!/bin/sh
# FLEET_SWITCH_CHECK_CMD for an HAProxy front: exits 0 only when group $SWITCHYARD_GROUP's servers are
# ready, the other group's in maint, and a request through HAProxy was answered by one of the group's.
# Exits 3 when that request was refused, reset or answered 5xx: the group cannot serve, and the
# controller switches back at once instead of checking again for 30 s.
#   FLEET_SWITCH_CHECK_CMD=HAPROXY_SOCKET=... HAPROXY_BACKEND=fleet HAPROXY_SERVERS_A="a1" HAPROXY_SERVERS_B="b1" HAPROXY_CHECK_URL=http://127.0.0.1:8080/ /path/to/templates/fleet/check.sh
set -eu
socket=${HAPROXY_SOCKET:-/run/haproxy/fleet.sock}
backend=${HAPROXY_BACKEND:-fleet}
url=${HAPROXY_CHECK_URL:-http://127.0.0.1:8080/}
tool="$(dirname "$0")/../haproxy/haproxy-tool.mjs"
case "${SWITCHYARD_GROUP:-}" in
  A) live=$HAPROXY_SERVERS_A; idle=$HAPROXY_SERVERS_B ;;
  B) live=$HAPROXY_SERVERS_B; idle=$HAPROXY_SERVERS_A ;;
  *) echo "check.sh: SWITCHYARD_GROUP must be A or B" >&2; exit 2 ;;
esac
# One Node start for the states and the request (haproxy-tool.mjs group-check): its exit code is the check's.
exec node "$tool" group-check "$socket" "$backend" "$url" "$live" "$idle"
