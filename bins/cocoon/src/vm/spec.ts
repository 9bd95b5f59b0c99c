/** From a VM record to what a driver launches: disks, NICs, kernel command line, paths. */
import { existsSync } from 'node:fs';
import type { LaunchSpec, VmPaths } from '@cocoon/common/hypervisor/index';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import { hostnameFor } from '@cocoon/common/refs';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { NetworkConfig, StorageConfig, VmRecord } from '@cocoon/common/schemas/vm';
import { networkCmdline } from './network.ts';

export const COW_SERIAL = 'cocoon-cow';
export const ROOT_SERIAL = 'cocoon-root';
export const SEED_SERIAL = 'cidata';

/**
 * Disks of a new VM (`storage_configs`). An OCI image: its read-only layers, then the ext4
 * COW disk. A cloud image: one writable qcow2 overlay whose backing file is the stored
 * image, and the NoCloud seed (attached until the first boot).
 */
export function vmDisks(image: ImageResolve, paths: VmPaths): StorageConfig[] {
  if (image.kind === 'cloud') {
    return [
      { path: paths.rootDisk, ro: false, serial: ROOT_SERIAL, role: 'cow', format: 'qcow2' },
      { path: paths.seedDisk, ro: true, serial: SEED_SERIAL, role: 'cidata', format: 'raw' },
    ];
  }
  return [
    ...image.disks.map((d): StorageConfig => ({ path: d.path, ro: true, serial: d.serial, role: 'layer', format: d.format })),
    { path: paths.cowDisk, ro: false, serial: COW_SERIAL, role: 'cow', format: 'raw' },
  ];
}

/**
 * The kernel command line contract read by the guest initramfs (DESIGN.md):
 * `boot=cocoon-overlay cocoon.layers=<serials bottom first> cocoon.cow=<serial> cocoon.hostname=<name>`,
 * then, with NICs, `net.ifnames=0` and `ip=<ip>::<gw>:<mask>:<name>:eth<i>:off[:dns0[:dns1]]` per static NIC.
 */
export function kernelCmdline(image: ImageResolve, name: string, nics: readonly NetworkConfig[] = [], dns: readonly string[] = []): string {
  if (!image.kernel) return '';
  const layers = image.disks.filter((d) => d.read_only).map((d) => d.serial);
  return [
    'console=ttyS0',
    'reboot=t',
    'panic=-1',
    ...image.cmdline,
    `cocoon.layers=${layers.join(',')}`,
    `cocoon.cow=${COW_SERIAL}`,
    `cocoon.hostname=${hostnameFor(name)}`,
    ...networkCmdline(nics, hostnameFor(name), dns),
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
    disks: disks.map((d) => ({ path: d.path, serial: d.serial, read_only: d.ro, format: d.format })),
    vsockCid: vm.vsock_cid ?? null,
    nics: vm.network_configs ?? [],
    netns: vm.network_configs?.find((n) => n.backend !== 'bridge' && n.netns_path)?.netns_path ?? null,
    vhostNet: existsSync('/dev/vhost-net'),
    paths,
  };
}
