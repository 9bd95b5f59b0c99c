#!/usr/bin/env bash
# The same network setup and teardown as `cocoon net add` + `cocoon net del`, by hand: the
# CNI plugin called directly per NIC, then one ip/tc command per step. Usage:
#   by-hand.sh VM_ID NICS PLUGIN_CONF_JSON CNI_BIN_DIR
set -euo pipefail
id=$1 n=$2 conf=$3 bin=$4
ns=cocoon-$id
ip netns add "$ns"
ip -n "$ns" link set dev lo up
for ((i = 0; i < n; i++)); do
  CNI_COMMAND=ADD CNI_CONTAINERID=$id CNI_NETNS=/var/run/netns/$ns CNI_IFNAME=eth$i CNI_PATH=$bin "$bin/bridge" <"$conf" >/dev/null
  tap=tap${id:0:8}-$i
  mtu=$(ip -n "$ns" -o link show dev "eth$i" | awk '{print $5}')
  ip -n "$ns" addr flush dev "eth$i"
  ip -n "$ns" tuntap add dev "$tap" mode tap vnet_hdr multi_queue
  ip -n "$ns" link set dev "$tap" mtu "$mtu"
  ip -n "$ns" link set dev "eth$i" up
  ip -n "$ns" link set dev "$tap" up
  tc -n "$ns" qdisc add dev "eth$i" ingress
  tc -n "$ns" qdisc add dev "$tap" ingress
  tc -n "$ns" filter add dev "eth$i" parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev "$tap"
  tc -n "$ns" filter add dev "$tap" parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev "eth$i"
done
for ((i = n - 1; i >= 0; i--)); do
  CNI_COMMAND=DEL CNI_CONTAINERID=$id CNI_NETNS=/var/run/netns/$ns CNI_IFNAME=eth$i CNI_PATH=$bin "$bin/bridge" <"$conf" >/dev/null
done
ip netns del "$ns"
