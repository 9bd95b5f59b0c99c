#!/usr/bin/env bash
# The Go cocoon's name for the doctor: `doctor/check.sh [--fix] [--upgrade] [--subnet=CIDR]`
# is `cocoon-doctor check …` (see cocoon-doctor --help).
exec "$(dirname "$(readlink -f "$0")")/cocoon-doctor" check "$@"
