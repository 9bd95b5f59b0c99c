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

export const COW_SERIAL = 'cocoon-cow';
export const ROOT_SERIAL = 'cocoon-root';
export const SEED_SERIAL = 'cidata';

/**
 * Disks of a new VM (`storage_configs`). An OCI image: its read-only layers, the ext4 COW
 * disk, then the data disks. A cloud image: one writable qcow2 overlay whose backing file is
 * the stored image, the data disks, and last the NoCloud seed (attached until the first
 * boot; last, so dropping it never moves another disk; none for Windows).
 */
export function vmDisks(image: ImageResolve, paths: VmPaths, data: readonly StorageConfig[] = [], windows = false): StorageConfig[] {
  if (image.kind === 'cloud') {
    return [
      { path: paths.rootDisk, ro: false, serial: ROOT_SERIAL, role: 'cow', format: 'qcow2' },
      ...data,
      ...(windows ? [] : [{ path: paths.seedDisk, ro: true, serial: SEED_SERIAL, role: 'cidata', format: 'raw' } as const]),
    ];
  }
  return [
    ...image.disks.map((d): StorageConfig => ({ path: d.path, ro: true, serial: d.serial, role: 'layer', format: d.format })),
    { path: paths.cowDisk, ro: false, serial: COW_SERIAL, role: 'cow', format: 'raw' },
    ...data,
  ];
}

/**
 * The kernel command line contract read by the guest initramfs (DESIGN.md):
 * `boot=cocoon-overlay cocoon.layers=<serials bottom first> cocoon.cow=<serial> cocoon.hostname=<name>`
 * `[cocoon.data=<serial>:<mount>:<fstype>,…]`, then, with NICs, `net.ifnames=0` and
 * `ip=<ip>::<gw>:<mask>:<name>:eth<i>:off[:dns0[:dns1]]` per static NIC.
 */
export function kernelCmdline(image: ImageResolve, name: string, disks: readonly StorageConfig[] = [], nics: readonly NetworkConfig[] = [], dns: readonly string[] = []): string {
  if (!image.kernel) return '';
  const layers = image.disks.filter((d) => d.read_only).map((d) => d.serial);
  const data = dataCmdline(disks);
  return [
    'console=ttyS0',
    'reboot=t',
    'panic=-1',
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
    disks: disks.map((d) => ({ path: d.path, serial: d.serial, read_only: d.ro, format: d.format, role: d.role, direct: diskDirectIo(d, tuning.direct_io) })),
    nics: vm.network_configs ?? [],
    tuning,
    windows: vm.config.windows === true,
    vsockCid: vm.vsock_cid ?? null,
    netns: vm.network_configs?.find((n) => n.backend !== 'bridge' && n.netns_path)?.netns_path ?? null,
    vhostNet: existsSync('/dev/vhost-net'),
    paths,
  };
}
