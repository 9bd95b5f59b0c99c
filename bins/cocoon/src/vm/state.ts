/** The live state of a VM record (cheap: a /proc read, no subprocess). */
import type { Layout } from '@cocoon/common/layout';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { isLive, liveState } from '@cocoon/common/hypervisor/live';

export { isLive, liveState };

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
