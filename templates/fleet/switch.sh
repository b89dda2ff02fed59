#!/bin/sh
# FLEET_SWITCH_CMD for an HAProxy front: the servers of group $SWITCHYARD_GROUP ready, the other group's
# in maint (requests already running on them run to their end). Server names come from the environment:
#   FLEET_SWITCH_CMD=HAPROXY_SOCKET=/run/haproxy/fleet.sock HAPROXY_BACKEND=fleet HAPROXY_SERVERS_A="a1" HAPROXY_SERVERS_B="b1" /path/to/templates/fleet/switch.sh
set -eu
socket=${HAPROXY_SOCKET:-/run/haproxy/fleet.sock}
backend=${HAPROXY_BACKEND:-fleet}
tool="$(dirname "$0")/../haproxy/haproxy-tool.mjs"
case "${SWITCHYARD_GROUP:-}" in
  A) live=${HAPROXY_SERVERS_A:?HAPROXY_SERVERS_A must name the servers of group A}; idle=${HAPROXY_SERVERS_B:?HAPROXY_SERVERS_B must name the servers of group B} ;;
  B) live=${HAPROXY_SERVERS_B:?HAPROXY_SERVERS_B must name the servers of group B}; idle=${HAPROXY_SERVERS_A:?HAPROXY_SERVERS_A must name the servers of group A} ;;
  *) echo "switch.sh: SWITCHYARD_GROUP must be A or B, got '${SWITCHYARD_GROUP:-}'" >&2; exit 2 ;;
esac
commands=""
for server in $live; do commands="$commands${commands:+; }set server $backend/$server state ready"; done
for server in $idle; do commands="$commands${commands:+; }set server $backend/$server state maint"; done
node "$tool" api "$socket" "$commands"
echo "haproxy $backend: group $SWITCHYARD_GROUP ($live) ready, the other group ($idle) in maint; commit ${SWITCHYARD_COMMIT:-?}"
