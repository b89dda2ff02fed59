#!/bin/sh
# SWITCH_CHECK_CMD for HAProxy: exits 0 only when HAProxy holds server $SWITCHYARD_SLOT ready and the
# other slot's server in maint, and a request through HAProxy was answered by server $SWITCHYARD_SLOT
# (the backend sets X-Switchyard-Server to the server's name). Switchyard runs it until it passes
# 3 times in a row.
#   SWITCH_CHECK_CMD=HAPROXY_SOCKET=/run/haproxy/myapp.sock HAPROXY_BACKEND=myapp HAPROXY_CHECK_URL=http://127.0.0.1:8080/health /srv/myapp/haproxy/check.sh
set -eu
socket=${HAPROXY_SOCKET:-/run/haproxy/admin.sock}
backend=${HAPROXY_BACKEND:-app}
url=${HAPROXY_CHECK_URL:-http://127.0.0.1:8080/health}
tool="$(dirname "$0")/haproxy-tool.mjs"
case "${SWITCHYARD_SLOT:-}" in
  a) other=b ;;
  b) other=a ;;
  *) echo "check.sh: SWITCHYARD_SLOT must be a or b, got '${SWITCHYARD_SLOT:-}'" >&2; exit 2 ;;
esac
# A slot's server names: a, then a2 ... aN with INSTANCES=N (as switch.sh).
servers() { echo "$1"; i=2; while [ "$i" -le "${SWITCHYARD_INSTANCES:-1}" ]; do echo "$1$i"; i=$((i + 1)); done; }
for server in $(servers "$SWITCHYARD_SLOT"); do
  state=$(node "$tool" admin-state "$socket" "$backend" "$server")
  [ "$state" = ready ] || { echo "check.sh: server $backend/$server is $state, not ready" >&2; exit 1; }
done
for server in $(servers "$other"); do
  state=$(node "$tool" admin-state "$socket" "$backend" "$server")
  [ "$state" = maint ] || { echo "check.sh: server $backend/$server is $state, not maint: it may still get requests" >&2; exit 1; }
done
served=$(node "$tool" served-by "$url")
case "$served" in
  "$SWITCHYARD_SLOT" | "$SWITCHYARD_SLOT"[0-9]*) ;;
  *) echo "check.sh: $url was answered by server $served, not one of slot $SWITCHYARD_SLOT's" >&2; exit 1 ;;
esac
echo "haproxy $backend: $url answered by server $served"
