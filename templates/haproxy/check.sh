#!/bin/sh
# SWITCH_CHECK_CMD for HAProxy: exits 0 only when HAProxy holds server $SWITCHYARD_SLOT ready and the
# other slot's server in maint, and a request through HAProxy was answered by server $SWITCHYARD_SLOT
# (the backend sets X-Switchyard-Server to the server's name). Switchyard runs it until it passes
# 3 times in a row.
#   SWITCH_CHECK_CMD=HAPROXY_SOCKET=/run/haproxy/myapp.sock HAPROXY_BACKEND=myapp HAPROXY_CHECK_URL=http://127.0.0.1:8080/health /srv/myapp/haproxy/check.sh
set -eu
url=${HAPROXY_CHECK_URL:-http://127.0.0.1:8080/health}
. "$(dirname "$0")/slots.sh"
# One look at the runtime API for every server of both slots.
states=$(node "$tool" admin-state "$socket" "$backend" $(servers "$SWITCHYARD_SLOT") $(servers "$other"))
while read -r server state; do
  case "$server" in
    "$SWITCHYARD_SLOT" | "$SWITCHYARD_SLOT"[0-9]*)
      [ "$state" = ready ] || { echo "check.sh: server $backend/$server is $state, not ready" >&2; exit 1; } ;;
    *)
      [ "$state" = maint ] || { echo "check.sh: server $backend/$server is $state, not maint: it may still get requests" >&2; exit 1; } ;;
  esac
done <<STATES
$states
STATES
served=$(node "$tool" served-by "$url")
case "$served" in
  "$SWITCHYARD_SLOT" | "$SWITCHYARD_SLOT"[0-9]*) ;;
  *) echo "check.sh: $url was answered by server $served, not one of slot $SWITCHYARD_SLOT's" >&2; exit 1 ;;
esac
echo "haproxy $backend: $url answered by server $served"
