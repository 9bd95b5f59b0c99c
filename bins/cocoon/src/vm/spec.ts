/** From a VM record to what a driver launches: disks, kernel command line, paths. */
import type { LaunchSpec } from '@cocoon/common/hypervisor/index';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import type { ImageResolve, ResolvedDisk } from '@cocoon/common/schemas/image';
import type { VmRecord } from '@cocoon/common/schemas/vm';

export const COW_SERIAL = 'cocoon-cow';

/** Disks of a new VM: the image's read-only layers, then the COW disk. */
export function vmDisks(image: ImageResolve, cowPath: string): ResolvedDisk[] {
  return [...image.disks, { path: cowPath, serial: COW_SERIAL, read_only: false, format: 'raw' }];
}

/**
 * The kernel command line contract read by the guest initramfs (DESIGN.md):
 * `boot=cocoon-overlay cocoon.layers=<serials bottom first> cocoon.cow=<serial> cocoon.hostname=<name>`.
 */
export function kernelCmdline(image: ImageResolve, name: string): string {
  const layers = image.disks.filter((d) => d.read_only).map((d) => d.serial);
  return [
    'console=ttyS0',
    'reboot=t',
    'panic=-1',
    ...image.cmdline,
    `cocoon.layers=${layers.join(',')}`,
    `cocoon.cow=${COW_SERIAL}`,
    `cocoon.hostname=${name}`,
  ].join(' ');
}

/** The launch spec of a recorded VM. */
export function launchSpec(layout: Layout, vm: VmRecord): LaunchSpec {
  return {
    id: vm.id,
    name: vm.name,
    cpu: vm.cpu,
    memory: vm.memory,
    accel: vm.accel,
    kernel: vm.boot.kernel,
    initrd: vm.boot.initrd,
    firmware: vm.boot.firmware,
    cmdline: vm.boot.cmdline,
    disks: vm.disks,
    paths: vmPaths(layout, vm.id),
  };
}
