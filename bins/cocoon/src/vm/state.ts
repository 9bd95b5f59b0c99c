/** The live state of a VM record (cheap: a /proc read, no subprocess). */
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import type { VmRecord, VmState } from '@cocoon/common/schemas/vm';

/** `running` only while the VM's hypervisor is alive and really this VM's. */
export function liveState(layout: Layout, vm: VmRecord): VmState {
  if (vm.state !== 'running') return vm.state;
  return driverFor(vm.hypervisor).inspect(vmPaths(layout, vm.id), vm.pid).running ? 'running' : 'stopped';
}
