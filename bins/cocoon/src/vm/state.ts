/** The live state of a VM record (cheap: a /proc read, no subprocess). */
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import type { VmRecord, VmState } from '@cocoon/common/schemas/vm';

/** Whether a VM in `state` has a hypervisor process (running or paused). */
export function isLive(state: VmState): boolean {
  return state === 'running' || state === 'paused';
}

/** `running` (or `paused`) only while the VM's hypervisor is alive and really this VM's. */
export function liveState(layout: Layout, vm: VmRecord): VmState {
  if (!isLive(vm.state)) return vm.state;
  return driverFor(vm.hypervisor).inspect(vmPaths(layout, vm.id), vm.pid).running ? vm.state : 'stopped';
}

/**
 * The record as printed: its live state, and `pid` 0 unless the hypervisor runs (as the Go
 * cocoon prints it). NOTE: sets both in place: callers pass their own freshly parsed copy
 * (`vm list` of 1,000 VMs would otherwise copy every record once more).
 */
export function withLiveState(layout: Layout, vm: VmRecord): VmRecord {
  vm.state = liveState(layout, vm);
  if (!isLive(vm.state)) vm.pid = 0;
  return vm;
}
