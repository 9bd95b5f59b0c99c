#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: install what is missing, build,
# build + import the default guest, run it on a real network, show its console proving it
# booted, run a command in it through the guest agent, reach it over the network (ping and
# a published port), stop it gracefully and remove it. Uses the default layout
# (/var/lib/cocoon, /var/log/cocoon). The network lives in a namespace that plays the host
# (cnet-demo, 198.19.0.0/24, a CNI bridge + portmap conflist in a temporary directory): the
# machine's own network namespace is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

bash doctor/cocoon-doctor install
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
export PATH="$PWD/dist/bin:$PATH"

ns=cnet-demo
conf=$(mktemp -d)
# cocoon inside the host-playing namespace (only the network namespace changes: the per-VM
# netns it makes must outlive each command, so no `ip netns exec` here).
c() { nsenter --net="/var/run/netns/$ns" env COCOON_CNI_CONF_DIR="$conf" cocoon "$@"; }
cleanup() {
  c vm rm --force demo >/dev/null 2>&1 || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$conf"
}
trap cleanup EXIT
c vm rm --force demo >/dev/null 2>&1 || true
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up
cat >"$conf/10-demo.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "demo", "plugins": [
  {"type": "bridge", "bridge": "cndemo0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.19.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$conf/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON

cocoon image build-default
c vm run --name demo --cpu 1 --memory 512M --storage 2G -p 8080:80 default
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(eval("JSON.parse(s)"+process.argv[1])))' "$1"; }
console_log=$(c vm inspect demo | json .runtime.consoleLog)
guest_ip=$(c vm inspect demo | json '.network_configs[0].network.ip')

echo "--- waiting for the guest (software emulation here can take a minute) ---"
for _ in $(seq 1 300); do
  grep -q 'cocoon: guest ready' "$console_log" 2>/dev/null && break
  sleep 1
done
echo "--- guest console ($console_log) ---"
tail -n 25 "$console_log"
grep -q 'cocoon: guest ready' "$console_log" || { echo "demo: the guest did not become ready" >&2; exit 1; }
echo "--- the guest agent answers (no SSH): cocoon vm exec demo -- uname -a ---"
c vm exec --wait-timeout 120 demo -- uname -a
echo "--- its network: $guest_ip on eth0, from CNI (bridge + host-local), TAP + TC redirect ---"
c vm exec demo -- ip -4 addr show dev eth0
ip netns exec "$ns" busybox ping -c 2 -W 5 "$guest_ip"
echo "--- port 80 of the guest published as 8080 of the host (portmap) ---"
c vm exec demo -- sh -c 'mkdir -p /tmp/www && echo "hello from the guest" >/tmp/www/index.html && setsid httpd -p 80 -h /tmp/www </dev/null >/dev/null 2>&1'
printf 'GET / HTTP/1.0\r\n\r\n' | ip netns exec "$ns" busybox nc -w 10 198.19.0.1 8080 | tail -n 1
echo "---"
c vm list --format table
c vm stop demo
c vm rm demo
echo "demo: done"
