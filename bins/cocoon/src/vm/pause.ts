/** `vm pause` / `vm resume`: stop and restart the vCPUs of a live VM, recorded as `paused`/`running`. */
import { MissingDependencyError } from '@cocoon/common/errors';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { canSnapshot, vmPaths, type Hypervisor, type SnapshotCapable } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { withLock } from '@cocoon/common/store/lock';
import { vmIndex, vmLockFile } from '@cocoon/common/vms';
import { setState } from './lifecycle.ts';
import { liveHypervisor } from './state.ts';

/** The driver of `vm` when it can pause, else a MissingDependencyError. */
export function pausableDriver(vm: VmRecord): Hypervisor & SnapshotCapable {
  const driver = driverFor(vm.hypervisor);
  if (!canSnapshot(driver)) throw new MissingDependencyError(`the ${vm.hypervisor} driver cannot pause or snapshot VMs`);
  return driver;
}

/** Pauses (`pause`) or resumes a live VM; doing it twice is harmless. */
export async function setPaused(layout: Layout, ref: string, pause: boolean): Promise<VmRecord> {
  const found = await vmIndex(layout).resolve(ref);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await vmIndex(layout).resolve(found.id);
    liveHypervisor(layout, vm);
    const driver = pausableDriver(vm);
    const paths = vmPaths(layout, vm.id);
    if (pause) await driver.pause(paths);
    else await driver.resume(paths);
    return setState(layout, vm.id, { state: pause ? 'paused' : 'running' });
  });
}
