import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { canSnapshot } from '@cocoon/common/hypervisor/index';
import { tuningFor } from '@cocoon/common/hypervisor/tuning';
import type { HypervisorKind } from '@cocoon/common/schemas/config';
import type { SnapshotMachine, SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import type { NetworkConfig, VmHotplug } from '@cocoon/common/schemas/vm';
import { grownResources, nicQueueCpu, type Launchable } from './from-snapshot.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const nic: NetworkConfig = { tap: 'tapa-0', mac: '02:00:00:00:00:01', num_queues: 4, queue_size: 512, backend: 'cni' };
const room: VmHotplug = { max_cpu: 2, max_memory: 4 * GiB, slots: 8, ports: 8, cpus: [], dimms: [], nics: 0 };

/** A saved 1-vCPU, 256 MiB, 1-NIC machine of `kind`, with the room its launch recorded (none: an old VM). */
function saved(hotplug: VmHotplug | undefined, kind: HypervisorKind = 'qemu'): Launchable {
  const driver = driverFor(kind);
  assert.ok(canSnapshot(driver));
  const machine: SnapshotMachine = { accel: 'tcg', cmdline: '', disks: [], nics: [nic], state_file: 'vmstate.qemu', vsock: false, tuning: { ...tuningFor({ memory: 256 * MiB }, false), hotplug } };
  const snapshot = { cpu: 1, memory: 256 * MiB, storage: GiB, nics: 1, name: 'base', hypervisor: kind } as SnapshotRecord;
  return { snapshot, machine, driver, dir: '/nonexistent' };
}

describe('resources of a VM from a snapshot', () => {
  it('inherit when absent or 0, and never shrink', () => {
    assert.deepEqual(grownResources(saved(room), { cpu: 0 }), { cpu: 1, memory: 256 * MiB, storage: GiB, nics: 1 });
    assert.throws(() => grownResources(saved(room), { memory: 128 * MiB }), { exitCode: 2, message: /^--memory: 128M is less than the snapshot's 256M: a VM from a snapshot may only grow/ });
  });

  it('grow live on QEMU within the room the saved launch recorded, memory in 128 MiB steps', () => {
    assert.deepEqual(grownResources(saved(room), { cpu: 2, memory: 768 * MiB, storage: 2 * GiB, nics: 3 }), { cpu: 2, memory: 768 * MiB, storage: 2 * GiB, nics: 3 });
    assert.throws(() => grownResources(saved(room), { cpu: 3 }), { exitCode: 2, message: /^--cpu: 3 is more than the 2 the VM of snapshot "base" was launched with room for/ });
    assert.throws(() => grownResources(saved(room), { memory: 8 * GiB }), { exitCode: 2, message: /^--memory: 8G is more than the 4G/ });
    assert.throws(() => grownResources(saved(room), { nics: 10 }), { exitCode: 2, message: /^--nics: 10 is more than the 9 / });
    assert.throws(() => grownResources(saved(room), { memory: 300 * MiB }), { exitCode: 2, message: /grows the snapshot's 256M by 44M; memory grows in steps of 128M/ });
    const full = { ...room, slots: 2, dimms: [128 * MiB, 128 * MiB] };
    assert.throws(() => grownResources(saved(full), { memory: 512 * MiB }), { exitCode: 2, message: /is more than the 256M/ }, 'no DIMM slot left');
  });

  it('keep the clear error for a VM launched without room, and for a driver that restores the machine as it was', () => {
    assert.throws(() => grownResources(saved(undefined), { cpu: 2 }), { exitCode: 2, message: /^--cpu: snapshot "base" is of a VM launched without room to grow .*give 1 or leave the flag out/ });
    assert.deepEqual(grownResources(saved(undefined), { cpu: 1, memory: 256 * MiB }).cpu, 1, 'equal is fine');
    assert.throws(() => grownResources(saved(undefined, 'firecracker'), { nics: 2 }), { exitCode: 2, message: /^--nics: the firecracker driver restores the saved machine as it was \(nics 1\)/ });
  });

  it('sizes a clone\'s NIC queues by the saved NICs (the devices the state restores)', () => {
    assert.equal(nicQueueCpu(saved(room)), 2);
    const grown = saved({ ...room, cpus: [{ 'core-id': 1 }] });
    const noNics = { ...grown, snapshot: { ...grown.snapshot, cpu: 2 }, machine: { ...grown.machine, nics: [] } };
    assert.equal(nicQueueCpu(noNics), 1, 'without saved NICs: the vCPUs the saved launch booted with');
  });
});
