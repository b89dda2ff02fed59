# Sourced by switch.sh and check.sh: what both read from their environment. Sets socket, backend and
# tool, other (the slot that is not $SWITCHYARD_SLOT), and servers SLOT (a slot's server names: a, then
# a2 ... aN with INSTANCES=N, the names of its processes myapp-a, myapp-a.2 ...).
socket=${HAPROXY_SOCKET:-/run/haproxy/admin.sock}
backend=${HAPROXY_BACKEND:-app}
tool="$(dirname "$0")/haproxy-tool.mjs"
case "${SWITCHYARD_SLOT:-}" in
  a) other=b ;;
  b) other=a ;;
  *) echo "$(basename "$0"): SWITCHYARD_SLOT must be a or b, got '${SWITCHYARD_SLOT:-}' (Switchyard sets it when it runs SWITCH_CMD or SWITCH_CHECK_CMD)" >&2; exit 2 ;;
esac
servers() { echo "$1"; i=2; while [ "$i" -le "${SWITCHYARD_INSTANCES:-1}" ]; do echo "$1$i"; i=$((i + 1)); done; }
