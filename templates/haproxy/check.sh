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
state=$(node "$tool" admin-state "$socket" "$backend" "$SWITCHYARD_SLOT")
[ "$state" = ready ] || { echo "check.sh: server $backend/$SWITCHYARD_SLOT is $state, not ready" >&2; exit 1; }
state=$(node "$tool" admin-state "$socket" "$backend" "$other")
[ "$state" = maint ] || { echo "check.sh: server $backend/$other is $state, not maint: it may still get requests" >&2; exit 1; }
served=$(node "$tool" served-by "$url")
[ "$served" = "$SWITCHYARD_SLOT" ] || { echo "check.sh: $url was answered by server $served, not $SWITCHYARD_SLOT" >&2; exit 1; }
echo "haproxy $backend: $url answered by server $served"
