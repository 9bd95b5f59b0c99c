#!/usr/bin/env bash
# `cocoon-net add` + `cocoon-net del` of one VM with NICS NICs. Usage: cocoon.sh COCOON_NET VM_ID NICS
set -euo pipefail
c=$1 id=$2 n=$3
"$c" add <<<"{\"vm_id\":\"$id\",\"nics\":$n,\"cpu\":2}" >/dev/null
"$c" del "$id" >/dev/null
