#!/usr/bin/env bash
# make-layout.sh DIR TAG SEED LAYER...: writes an OCI image layout at DIR (tag TAG) whose
# layers are uncompressed tars: a tiny kernel-shaped layer (boot/vmlinuz, boot/initrd.img; or
# the tar $BOOT_TAR) and, per LAYER, either a number (a new layer of that many MiB of
# /dev/urandom data, file names from SEED) or the path of an existing layer tar to reuse.
set -euo pipefail
dir=$1 tag=$2 seed=$3
shift 3
mkdir -p "$dir/blobs/sha256"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# put FILE: moves FILE into the layout by its digest; prints "<digest> <size>".
put() {
  local hex size
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$dir/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# layer NAME: tars $scratch/NAME into a blob; appends to the layer and diff_id lists.
layers="" diffs=""
layer() {
  [[ -e $scratch/$1.tar ]] || tar --sort=name --mtime=@0 --owner=0 --group=0 -C "$scratch/$1" -cf "$scratch/$1.tar" .
  read -r digest size < <(put "$scratch/$1.tar")
  layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$digest\",\"size\":$size}"
  # NOTE: an uncompressed layer's diff_id is its digest.
  diffs+="${diffs:+,}\"$digest\""
}

if [[ -n ${BOOT_TAR:-} ]]; then
  cp "$BOOT_TAR" "$scratch/boot.tar"
else
  mkdir -p "$scratch/boot/boot"
  head -c 65536 /dev/urandom >"$scratch/boot/boot/vmlinuz"
  head -c 65536 /dev/urandom >"$scratch/boot/boot/initrd.img"
fi
layer boot
i=0
for arg in "$@"; do
  i=$((i + 1))
  if [[ $arg =~ ^[0-9]+$ ]]; then
    mkdir -p "$scratch/l$i/data"
    head -c "$((arg << 20))" /dev/urandom >"$scratch/l$i/data/$seed-$i.bin"
  else
    cp "$arg" "$scratch/l$i.tar"
  fi
  layer "l$i"
done

printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffs" >"$scratch/config.json"
read -r cdigest csize < <(put "$scratch/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' "$cdigest" "$csize" "$layers" >"$scratch/manifest.json"
read -r mdigest msize < <(put "$scratch/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' "$mdigest" "$msize" "$tag" >"$dir/index.json"
