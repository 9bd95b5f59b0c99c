/** The live state of a VM record as the front end prints it (see `@cocoon/common/hypervisor/live`). */
import type { Layout } from '@cocoon/common/layout';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { creationInterrupted, findHypervisor, interruptedReason, isLive } from '@cocoon/common/hypervisor/live';

export { creationInterrupted, findHypervisor, interruptedReason, isLive, liveHypervisor, liveState, type FoundHypervisor } from '@cocoon/common/hypervisor/live';

/**
 * The record as printed: its live state, and `pid` 0 unless the hypervisor runs (as the Go
 * cocoon prints it). NOTE: sets them in place: callers pass their own freshly parsed copy
 * (`vm list` of 1,000 VMs would otherwise copy every record once more).
 */
export function withLiveState(layout: Layout, vm: VmRecord): VmRecord {
  if (vm.state === 'creating') {
    if (creationInterrupted(vm)) Object.assign(vm, { state: 'error', error: interruptedReason(vm) });
    return vm;
  }
  const found = findHypervisor(layout, vm);
  if (found) {
    if (!isLive(vm.state)) vm.state = 'running';
    vm.pid = found.pid;
    vm.pid_start_time = found.startTime;
  } else {
    if (isLive(vm.state)) vm.state = 'stopped';
    vm.pid = 0;
  }
  return vm;
}

/**
 * Whether the record says running (or paused) but no hypervisor of the VM runs: the Go
 * cocoon shows such a VM as `stopped (stale)`.
 */
export function isStale(layout: Layout, vm: VmRecord): boolean {
  return isLive(vm.state) && findHypervisor(layout, vm) === null;
}
