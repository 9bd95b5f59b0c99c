#!/usr/bin/env bash
# registry.sh DIR: starts Debian's docker-registry on 127.0.0.1:<free port> with its storage
# and config in DIR (the shell twin of test/helpers/registry.ts); prints "<pid> <host:port>".
set -euo pipefail
dir=$1
mkdir -p "$dir/storage"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$dir/config.yml" <<YAML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: "$dir/storage" } }
http: { addr: "127.0.0.1:$port", secret: "bench-$RANDOM" }
YAML
docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/"; then
    echo "$pid 127.0.0.1:$port"
    exit 0
  fi
  sleep 0.05
done
echo "docker-registry did not start (Debian package: docker-registry): $(tail -5 "$dir/registry.log")" >&2
kill "$pid"
exit 1
