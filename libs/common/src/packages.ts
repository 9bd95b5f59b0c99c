/** The host tools cocoon runs and the Debian packages that provide them (for "install …" messages). */
export const PACKAGE_OF: Record<string, string> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  'mkfs.erofs': 'erofs-utils',
  'mke2fs': 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  'resize2fs': 'e2fsprogs',
  busybox: 'busybox-static',
  cpio: 'cpio',
  'apt-get': 'apt',
  'dpkg-deb': 'dpkg',
  ip: 'iproute2',
  tc: 'iproute2',
  'mkfs.vfat': 'dosfstools',
  mcopy: 'mtools',
  xz: 'xz-utils',
  zstd: 'zstd',
  skopeo: 'skopeo',
};

