#!/bin/sh
# FLEET_DRAIN_CMD for templates/fleet/haproxy-rolling.cfg: SWITCHYARD_DRAIN=drain puts the servers of the
# hosts numbered in $SWITCHYARD_HOST_NUMBERS (h1, h2 ...: their place in FLEET_HOSTS) in drain (no new
# requests; those running finish), before their deploy; SWITCHYARD_DRAIN=ready puts them back after it.
# Through the runtime API: no reload, no connection closed.
#   FLEET_DRAIN_CMD=HAPROXY_SOCKET=/run/haproxy/fleet.sock HAPROXY_BACKEND=fleet /path/to/templates/fleet/drain.sh
set -eu
socket=${HAPROXY_SOCKET:-/run/haproxy/fleet.sock}
backend=${HAPROXY_BACKEND:-fleet}
prefix=${HAPROXY_SERVER_PREFIX:-h}
tool="$(dirname "$0")/../haproxy/haproxy-tool.mjs"
case "${SWITCHYARD_DRAIN:-}" in
  drain|ready) ;;
  *) echo "drain.sh: SWITCHYARD_DRAIN must be drain or ready, got '${SWITCHYARD_DRAIN:-}'" >&2; exit 2 ;;
esac
commands=""
servers=""
for number in ${SWITCHYARD_HOST_NUMBERS:?SWITCHYARD_HOST_NUMBERS must name the hosts by their place in FLEET_HOSTS}; do
  commands="$commands${commands:+; }set server $backend/$prefix$number state $SWITCHYARD_DRAIN"
  servers="$servers${servers:+ }$prefix$number"
done
node "$tool" api "$socket" "$commands"
echo "haproxy $backend: $servers ($SWITCHYARD_HOSTS) $SWITCHYARD_DRAIN"
