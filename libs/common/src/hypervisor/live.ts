/** The live state of a VM record (cheap: a /proc read, no subprocess). Shared by the front end and cocoon-snap. */
import type { Layout } from '../layout.ts';
import type { VmRecord, VmState } from '../schemas/vm.ts';
import { driverFor } from './drivers.ts';
import { vmPaths } from './index.ts';

/** Whether a VM in `state` has a hypervisor process (running or paused). */
export function isLive(state: VmState): boolean {
  return state === 'running' || state === 'paused';
}

/** `running` (or `paused`) only while the VM's hypervisor is alive and really this VM's. */
export function liveState(layout: Layout, vm: VmRecord): VmState {
  if (!isLive(vm.state)) return vm.state;
  return driverFor(vm.hypervisor).inspect(vmPaths(layout, vm.id), vm.pid).running ? vm.state : 'stopped';
}
