/** From a VM record to what a driver launches: disks, kernel command line, paths. */
import type { LaunchSpec, VmPaths } from '@cocoon/common/hypervisor/index';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import { hostnameFor } from '@cocoon/common/refs';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { StorageConfig, VmRecord } from '@cocoon/common/schemas/vm';

/** Which layers a new VM maps through virtio-pmem (by index in `image.disks`), and why none when a DAX layer stays a block device. */
export interface PmemPlan {
  layers: ReadonlySet<number>;
  notice?: string;
}

/**
 * Layers laid out for DAX are mapped through virtio-pmem when the hypervisor can (QEMU)
 * and the image's guest mounts them (`guest_pmem`); otherwise they stay block devices and
 * the VM record says why in one line (`notice`, shown by `vm inspect`).
 */
export function pmemPlan(image: ImageResolve, hypervisor: VmRecord['hypervisor']): PmemPlan {
  const dax = image.disks.flatMap((d, i) => (d.dax ? [i] : []));
  if (dax.length === 0) return { layers: new Set() };
  if (hypervisor !== 'qemu') return { layers: new Set(), notice: `layers attached as block devices: the ${hypervisor} driver maps none through virtio-pmem (no DAX sharing)` };
  if (!image.guest_pmem) return { layers: new Set(), notice: 'layers attached as block devices: the image does not say its guest mounts virtio-pmem layers (no io.cocoon.guest.pmem annotation), so nothing is shared through DAX' };
  return { layers: new Set(dax) };
}

export const COW_SERIAL = 'cocoon-cow';
/** 1024 slabs of 2 KiB: a 2 MiB bounce-buffer pool instead of the 64 MiB default. */
const SMALL_SWIOTLB = 'swiotlb=1024';
export const ROOT_SERIAL = 'cocoon-root';
export const SEED_SERIAL = 'cidata';

/**
 * Disks of a new VM (`storage_configs`). An OCI image: its read-only layers, then the ext4
 * COW disk. A cloud image: one writable qcow2 overlay whose backing file is the stored
 * image, and the NoCloud seed (attached until the first boot).
 */
export function vmDisks(image: ImageResolve, paths: VmPaths, pmem: PmemPlan = { layers: new Set() }): StorageConfig[] {
  if (image.kind === 'cloud') {
    return [
      { path: paths.rootDisk, ro: false, serial: ROOT_SERIAL, role: 'cow', format: 'qcow2' },
      { path: paths.seedDisk, ro: true, serial: SEED_SERIAL, role: 'cidata', format: 'raw' },
    ];
  }
  return [
    ...image.disks.map((d, i): StorageConfig => ({ path: d.path, ro: true, serial: d.serial, role: 'layer', format: d.format, ...(pmem.layers.has(i) ? { pmem: true } : {}) })),
    { path: paths.cowDisk, ro: false, serial: COW_SERIAL, role: 'cow', format: 'raw' },
  ];
}

/**
 * The kernel command line contract read by the guest initramfs (DESIGN.md):
 * `boot=cocoon-overlay cocoon.layers=<serials bottom first> cocoon.cow=<serial> cocoon.hostname=<name>`;
 * a layer mapped through virtio-pmem is named `pmem:<its EROFS UUID>` instead of a serial.
 */
export function kernelCmdline(image: ImageResolve, name: string, pmem: PmemPlan = { layers: new Set() }): string {
  if (!image.kernel) return '';
  const layers = image.disks.flatMap((d, i) => (!d.read_only ? [] : pmem.layers.has(i) && d.uuid ? [`pmem:${d.uuid.replaceAll('-', '')}`] : [d.serial]));
  return [
    'console=ttyS0',
    'reboot=t',
    'panic=-1',
    // NOTE: the pmem devices sit in hot-pluggable memory above 4 GiB, so the kernel would
    // set 64 MiB of RAM aside for DMA bounce buffers (SWIOTLB) that virtio never uses.
    ...(pmem.layers.size > 0 ? [SMALL_SWIOTLB] : []),
    ...image.cmdline,
    `cocoon.layers=${layers.join(',')}`,
    `cocoon.cow=${COW_SERIAL}`,
    `cocoon.hostname=${hostnameFor(name)}`,
  ].join(' ');
}

/** The launch spec of a recorded VM (a cloud VM's seed disk rides along until its first boot). */
export function launchSpec(layout: Layout, vm: VmRecord): LaunchSpec {
  const paths = vmPaths(layout, vm.id);
  const disks = vm.storage_configs.filter((d) => d.role !== 'cidata' || !vm.first_booted);
  return {
    id: vm.id,
    name: vm.config.name,
    cpu: vm.config.cpu,
    memory: vm.config.memory,
    accel: vm.accel,
    kernel: vm.boot.kernel,
    initrd: vm.boot.initrd,
    firmware: vm.boot.firmware,
    cmdline: vm.boot.cmdline,
    disks: disks.map((d) => ({ path: d.path, serial: d.serial, read_only: d.ro, format: d.format, ...(d.pmem ? { pmem: true } : {}) })),
    vsockCid: vm.vsock_cid ?? null,
    paths,
  };
}
