/** From a VM record to what a driver launches: disks, NICs, kernel command line, paths. */
import { existsSync } from 'node:fs';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import type { LaunchSpec, VmPaths } from '@cocoon/common/hypervisor/index';
import { canGrowLive, vmPaths } from '@cocoon/common/hypervisor/index';
import { diskDirectIo, tuningFor } from '@cocoon/common/hypervisor/tuning';
import type { Layout } from '@cocoon/common/layout';
import { hostnameFor } from '@cocoon/common/refs';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { NetworkConfig, StorageConfig, VmRecord } from '@cocoon/common/schemas/vm';
import { dataCmdline } from './data-disks.ts';
import { networkCmdline } from './network.ts';

/** Which layers a new VM maps through virtio-pmem (by index in `image.disks`), and why none when a DAX layer stays a block device. */
export interface PmemPlan {
  layers: ReadonlySet<number>;
  notice?: string;
}

const NO_PMEM: PmemPlan = { layers: new Set() };

/**
 * Layers laid out for DAX are mapped through virtio-pmem when the hypervisor can (QEMU)
 * and the image's guest mounts them (`guest_pmem`); otherwise they stay block devices and
 * the VM record says why in one line (`notice`, shown by `vm inspect`).
 */
export function pmemPlan(image: ImageResolve, hypervisor: VmRecord['hypervisor']): PmemPlan {
  const dax = image.disks.flatMap((d, i) => (d.dax ? [i] : []));
  if (dax.length === 0) return NO_PMEM;
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
 * Disks of a new VM (`storage_configs`). An OCI image: its read-only layers, the ext4 COW
 * disk, then the data disks. A cloud image: one writable qcow2 overlay whose backing file is
 * the stored image, the data disks, and last the NoCloud seed (attached until the first
 * boot; last, so dropping it never moves another disk; none for Windows).
 */
export function vmDisks(image: ImageResolve, paths: VmPaths, data: readonly StorageConfig[] = [], windows = false, pmem: PmemPlan = NO_PMEM): StorageConfig[] {
  if (image.kind === 'cloud') {
    return [
      { path: paths.rootDisk, ro: false, serial: ROOT_SERIAL, role: 'cow', format: 'qcow2' },
      ...data,
      ...(windows ? [] : [{ path: paths.seedDisk, ro: true, serial: SEED_SERIAL, role: 'cidata', format: 'raw' } as const]),
    ];
  }
  return [
    ...image.disks.map((d, i): StorageConfig => ({ path: d.path, ro: true, serial: d.serial, role: 'layer', format: d.format, ...(pmem.layers.has(i) ? { pmem: true } : {}) })),
    { path: paths.cowDisk, ro: false, serial: COW_SERIAL, role: 'cow', format: 'raw' },
    ...data,
  ];
}

/**
 * The kernel command line contract read by the guest initramfs (DESIGN.md):
 * `boot=cocoon-overlay cocoon.layers=<serials bottom first> cocoon.cow=<serial> cocoon.hostname=<name>`
 * `[cocoon.data=<serial>:<mount>:<fstype>,…]`, then, with NICs, `net.ifnames=0` and
 * `ip=<ip>::<gw>:<mask>:<name>:eth<i>:off[:dns0[:dns1]]` per static NIC. A layer the VM maps
 * through virtio-pmem (`pmem` in its storage config) is named `pmem:<its EROFS UUID>`.
 */
export function kernelCmdline(image: ImageResolve, name: string, disks: readonly StorageConfig[] = [], nics: readonly NetworkConfig[] = [], dns: readonly string[] = []): string {
  if (!image.kernel) return '';
  const onPmem = new Set(disks.filter((d) => d.role === 'layer' && d.pmem).map((d) => d.path));
  const layers = image.disks.filter((d) => d.read_only).map((d) => (onPmem.has(d.path) && d.uuid ? `pmem:${d.uuid.replaceAll('-', '')}` : d.serial));
  const data = dataCmdline(disks);
  return [
    'console=ttyS0',
    'reboot=t',
    'panic=-1',
    // NOTE: the pmem devices sit in hot-pluggable memory above 4 GiB, so the kernel would
    // set 64 MiB of RAM aside for DMA bounce buffers (SWIOTLB) that virtio never uses.
    ...(onPmem.size > 0 ? [SMALL_SWIOTLB] : []),
    ...image.cmdline,
    `cocoon.layers=${layers.join(',')}`,
    `cocoon.cow=${COW_SERIAL}`,
    `cocoon.hostname=${hostnameFor(name)}`,
    ...(data ? [data] : []),
    ...networkCmdline(nics, hostnameFor(name), dns),
  ].join(' ');
}

/**
 * The launch spec of a recorded VM (a cloud VM's seed disk rides along until its first boot),
 * with the room to grow live its driver reserves at every launch (recorded with the tuning).
 */
export function launchSpec(layout: Layout, vm: VmRecord, hugepages?: boolean): LaunchSpec {
  const spec = baseSpec(layout, vm, hugepages);
  const driver = driverFor(vm.hypervisor);
  const hotplug = canGrowLive(driver) ? driver.headroom(spec) : undefined;
  return hotplug ? { ...spec, tuning: { ...spec.tuning, hotplug } } : spec;
}

function baseSpec(layout: Layout, vm: VmRecord, hugepages?: boolean): LaunchSpec {
  const paths = vmPaths(layout, vm.id);
  const disks = vm.storage_configs.filter((d) => d.role !== 'cidata' || !vm.first_booted);
  const tuning = tuningFor(vm.config, hugepages);
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
    disks: disks.map((d) => ({ path: d.path, serial: d.serial, read_only: d.ro, format: d.format, role: d.role, direct: diskDirectIo(d, tuning.direct_io), ...(d.pmem ? { pmem: true } : {}) })),
    nics: vm.network_configs ?? [],
    tuning,
    windows: vm.config.windows === true,
    vsockCid: vm.vsock_cid ?? null,
    netns: vm.network_configs?.find((n) => n.backend !== 'bridge' && n.netns_path)?.netns_path ?? null,
    vhostNet: existsSync('/dev/vhost-net'),
    paths,
  };
}
