#!/bin/sh
# Installs a cocoon release (the folder this script is in) under a prefix:
#   PREFIX/lib/cocoon/       the executable, its tool names (symlinks) and native addons,
#                            cocoon-doctor and check.sh
#   PREFIX/bin/cocoon…       one symlink per tool (cocoon, cocoon-image, …, cocoon-doctor)
#   PREFIX/share/cocoon/     cocoon-agent.service (for guest images that run the agent)
# Every file is checked against SHA256SUMS first; nothing is installed when one differs.
# An upgrade replaces each file by rename, so a running cocoon keeps its old executable.
#
#   sh install.sh [--prefix DIR]      (default /usr/local)
set -eu

prefix=/usr/local
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix=$2; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option \"$1\" (usage: install.sh [--prefix DIR])" >&2; exit 2 ;;
  esac
  shift
done
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! sha256sum --check --quiet --strict SHA256SUMS; then
  echo "install.sh: the release does not match its SHA256SUMS; nothing was installed" >&2
  exit 1
fi

lib=$prefix/lib/cocoon
mkdir -p "$lib" "$prefix/bin" "$prefix/share/cocoon"

# put SRC DEST MODE: copy next to DEST, then rename over it.
put() {
  tmp=$(mktemp "$(dirname "$2")/.install.XXXXXX")
  cp "$1" "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$2"
}

put bin/cocoon "$lib/cocoon" 0755
for addon in bin/*.node; do put "$addon" "$lib/$(basename "$addon")" 0644; done
put doctor/cocoon-doctor "$lib/cocoon-doctor" 0755
put doctor/check.sh "$lib/check.sh" 0755
put doctor/host-tools.json "$lib/host-tools.json" 0644
put systemd/cocoon-agent.service "$prefix/share/cocoon/cocoon-agent.service" 0644
for link in bin/cocoon-*; do
  [ -L "$link" ] || continue
  ln -sfn cocoon "$lib/$(basename "$link")"
done
for name in cocoon $(cd bin && for l in cocoon-*; do [ -L "$l" ] && echo "$l"; done) cocoon-doctor; do
  ln -sfn "../lib/cocoon/$name" "$prefix/bin/$name"
done
echo "cocoon installed in $prefix/bin (files in $lib); run: cocoon-doctor check"
