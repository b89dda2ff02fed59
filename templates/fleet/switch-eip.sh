#!/bin/sh
# FLEET_SWITCH_CMD for two machines behind one Elastic IP (AWS): the address moves to the first host of
# group $SWITCHYARD_GROUP. Not tested here (it needs AWS); the aws CLI and credentials come from the
# controller's environment. Map each group to its instance:
#   FLEET_SWITCH_CMD=EIP_ALLOCATION=eipalloc-0123 INSTANCE_A=i-0aaa INSTANCE_B=i-0bbb /path/to/templates/fleet/switch-eip.sh
#   FLEET_SWITCH_CHECK_CMD=curl -fsS --max-time 5 https://www.example.com/health
set -eu
case "${SWITCHYARD_GROUP:-}" in
  A) instance=${INSTANCE_A:?INSTANCE_A must be the instance id of group A} ;;
  B) instance=${INSTANCE_B:?INSTANCE_B must be the instance id of group B} ;;
  *) echo "switch-eip.sh: SWITCHYARD_GROUP must be A or B" >&2; exit 2 ;;
esac
aws ec2 associate-address --allocation-id "${EIP_ALLOCATION:?EIP_ALLOCATION must be the allocation id of the Elastic IP}" --instance-id "$instance" --allow-reassociation >/dev/null
echo "Elastic IP $EIP_ALLOCATION → $instance (group $SWITCHYARD_GROUP, ${SWITCHYARD_HOSTS:-}); commit ${SWITCHYARD_COMMIT:-?}"
