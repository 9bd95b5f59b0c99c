/** From a VM record to what a driver launches: disks, kernel command line, paths. */
import type { LaunchSpec, VmPaths } from '@cocoon/common/hypervisor/index';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import type { ImageResolve, ResolvedDisk } from '@cocoon/common/schemas/image';
import type { VmRecord } from '@cocoon/common/schemas/vm';

export const COW_SERIAL = 'cocoon-cow';
export const ROOT_SERIAL = 'cocoon-root';
export const SEED_SERIAL = 'cidata';

/**
 * Disks of a new VM. An OCI image: its read-only layers, then the ext4 COW disk. A cloud
 * image: one writable qcow2 overlay whose backing file is the stored image.
 */
export function vmDisks(image: ImageResolve, paths: VmPaths): ResolvedDisk[] {
  if (image.kind === 'cloud') return [{ path: paths.rootDisk, serial: ROOT_SERIAL, read_only: false, format: 'qcow2' }];
  return [...image.disks, { path: paths.cowDisk, serial: COW_SERIAL, read_only: false, format: 'raw' }];
}

/**
 * The kernel command line contract read by the guest initramfs (DESIGN.md):
 * `boot=cocoon-overlay cocoon.layers=<serials bottom first> cocoon.cow=<serial> cocoon.hostname=<name>`.
 */
export function kernelCmdline(image: ImageResolve, name: string): string {
  if (!image.kernel) return '';
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

/** The launch spec of a recorded VM (a cloud VM's seed disk rides along until its first boot). */
export function launchSpec(layout: Layout, vm: VmRecord): LaunchSpec {
  const paths = vmPaths(layout, vm.id);
  const seed: ResolvedDisk[] = vm.boot.firmware && !vm.booted ? [{ path: paths.seedDisk, serial: SEED_SERIAL, read_only: true, format: 'raw' }] : [];
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
    disks: [...vm.disks, ...seed],
    vsockCid: vm.vsock_cid,
    paths,
  };
}
