/** Launch specs for driver tests: a plausible VM, with any field overridden. */
import { vmPaths, type LaunchDisk, type LaunchSpec } from '../hypervisor/index.ts';
import { tuningFor } from '../hypervisor/tuning.ts';
import { layoutOf } from '../layout.ts';

export const TEST_VM_ID = 'a'.repeat(32);

/** The disks of an OCI VM: two read-only layers and the COW disk (paths under `root`). */
export function ociDisks(root = '/r'): LaunchDisk[] {
  return [
    { path: `${root}/images/blobs/sha256/${'1'.repeat(64)}.erofs`, serial: 'cocoon-layer0', read_only: true, format: 'raw', role: 'layer', direct: false },
    { path: `${root}/images/blobs/sha256/${'2'.repeat(64)}.erofs`, serial: 'cocoon-layer1', read_only: true, format: 'raw', role: 'layer', direct: false },
    { path: `${root}/run/${TEST_VM_ID}/cow.raw`, serial: 'cocoon-cow', read_only: false, format: 'raw', role: 'cow', direct: true },
  ];
}

/** A 1-vCPU, 512 MiB direct-boot VM with the default tuning (no hugepages), overridable. */
export function testLaunchSpec(over: Partial<LaunchSpec> = {}, root = '/r'): LaunchSpec {
  const layout = layoutOf({ root_dir: root, run_dir: `${root}/run`, log_dir: `${root}/log` });
  const memory = over.memory ?? 2 ** 29;
  return {
    id: TEST_VM_ID,
    name: 'v',
    cpu: 1,
    memory,
    accel: 'tcg',
    kernel: `${root}/images/boot/k/vmlinuz`,
    initrd: `${root}/images/boot/k/initrd.img`,
    firmware: null,
    cmdline: 'console=ttyS0 boot=cocoon-overlay cocoon.layers=cocoon-layer0,cocoon-layer1 cocoon.cow=cocoon-cow cocoon.hostname=v',
    disks: ociDisks(root),
    nics: [],
    netns: null,
    vhostNet: false,
    tuning: tuningFor({ memory, windows: over.windows }, false),
    windows: false,
    vsockCid: 3,
    paths: vmPaths(layout, TEST_VM_ID),
    ...over,
  };
}
