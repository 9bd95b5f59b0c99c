/**
 * The live state of a VM record (cheap: a /proc read, no subprocess). Shared by the front
 * end (`vm list/inspect/status`), cocoon-console and cocoon-gc: a record says `running`
 * until something rewrites it, so every reader checks the hypervisor process itself.
 */
import { driverFor } from './hypervisor/drivers.ts';
import { vmPaths } from './hypervisor/index.ts';
import type { Layout } from './layout.ts';
import type { VmRecord, VmState } from './schemas/vm.ts';

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
 * Whether the record says running (or paused) but its hypervisor is gone: the Go cocoon
 * shows such a VM as `stopped (stale)`.
 */
export function isStale(layout: Layout, vm: VmRecord): boolean {
  return isLive(vm.state) && liveState(layout, vm) !== vm.state;
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
