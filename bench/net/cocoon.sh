#!/usr/bin/env bash
# `cocoon net add` + `cocoon net del` of one VM with NICS NICs. Usage: cocoon.sh COCOON VM_ID NICS
set -euo pipefail
c=$1 id=$2 n=$3
"$c" net add <<<"{\"vm_id\":\"$id\",\"nics\":$n,\"cpu\":2}" >/dev/null
"$c" net del "$id" >/dev/null
