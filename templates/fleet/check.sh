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
states=$(node "$tool" admin-state "$socket" "$backend" $live $idle)
for server in $live; do
  echo "$states" | grep -qx "$server ready" || { echo "check.sh: $backend/$server is not ready" >&2; exit 1; }
done
for server in $idle; do
  echo "$states" | grep -qx "$server maint" || { echo "check.sh: $backend/$server is not in maint: it may still get requests" >&2; exit 1; }
done
served=$(node "$tool" served-by "$url")
case " $live " in
  *" $served "*) echo "haproxy $backend: $url answered by $served, of group $SWITCHYARD_GROUP" ;;
  *) echo "check.sh: $url was answered by $served, not by group $SWITCHYARD_GROUP ($live)" >&2; exit 1 ;;
esac
