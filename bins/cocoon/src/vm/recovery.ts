/**
 * What the lifecycle commands do about work a killed command left half-done (see state.ts
 * for how it is found): a hypervisor no record knows is adopted by `start` (or killed when it
 * cannot be) and killed by `rm --force`; an interrupted creation is refused by `start`, removed
 * by `rm`, and gives its name up to a new `create`. Nothing here trusts a bare PID.
 */
import { rm } from 'node:fs/promises';
import { BusyError, InvalidStateError } from '@cocoon/common/errors';
import { canAdopt, vmPaths, type Hypervisor, type LaunchSpec } from '@cocoon/common/hypervisor/index';
import { killVmProcesses } from '@cocoon/common/hypervisor/process';
import type { Layout } from '@cocoon/common/layout';
import { log } from '@cocoon/common/log';
import { selfIdentity } from '@cocoon/common/proc';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { creationInterrupted, findHypervisor, interruptedReason, type FoundHypervisor } from './state.ts';

/** `creator` of a record this process is creating. */
export function creatorOfThisProcess(): NonNullable<VmRecord['creator']> {
  const me = selfIdentity();
  return { pid: me.pid, start_time: me.start };
}

/** Refuses to start a record that is still (or was never fully) created. */
export function refuseUnfinished(vm: VmRecord): void {
  if (vm.state !== 'creating') return;
  if (creationInterrupted(vm)) throw new InvalidStateError(`VM "${vm.config.name}" was never fully created (${interruptedReason(vm)})`);
  throw new InvalidStateError(`VM "${vm.config.name}" is still being created (by pid ${vm.creator?.pid ?? '?'})`);
}

/** Refuses to remove a record whose creator is still at work (it would find its record gone). */
export function refuseBeingCreated(vm: VmRecord): void {
  if (vm.state === 'creating' && !creationInterrupted(vm)) {
    throw new BusyError(`VM "${vm.config.name}" is being created by pid ${vm.creator?.pid ?? '?'}; remove it once that is done`);
  }
}

/**
 * The live hypervisor of a VM being started, if a killed `start` left one: adopted when the
 * driver can (it answers, its relay is started), else killed so a fresh start can follow.
 * Returns the adopted process, or null when there is nothing (left) to adopt.
 */
export async function adoptLeftover(driver: Hypervisor, spec: LaunchSpec, found: FoundHypervisor, timeoutMs: number): Promise<FoundHypervisor | null> {
  if (canAdopt(driver)) {
    try {
      await driver.adopt(spec, found.pid, timeoutMs);
      log().info({ vm: spec.id, pid: found.pid }, 'adopted a hypervisor its starter left running');
      return found;
    } catch (err) {
      log().warn({ vm: spec.id, pid: found.pid, err: (err as Error).message }, 'could not adopt a left-over hypervisor; killing it');
    }
  }
  await driver.stop(spec.paths, found.pid, { timeoutMs: 0, force: true });
  return null;
}

/** Ends every process still working in the VM's run dir (an unrecorded hypervisor or relay). */
export async function killLeftovers(layout: Layout, vm: VmRecord): Promise<void> {
  const killed = await killVmProcesses(vmPaths(layout, vm.id).runDir);
  if (killed.length) log().warn({ vm: vm.id, pids: killed }, 'killed processes no record knew');
}

/**
 * Under the index lock of a create: a record of the same name that is an interrupted creation
 * gives the name up (it is dropped, its files removed by `dropFiles` after the lock). Returns
 * the records dropped.
 */
export function reclaimInterrupted(items: Map<string, VmRecord>, name: string): VmRecord[] {
  const folded = name.toLowerCase();
  const dropped = [...items.values()].filter((vm) => vm.config.name.toLowerCase() === folded && creationInterrupted(vm));
  for (const vm of dropped) items.delete(vm.id);
  return dropped;
}

/** Removes the run and log dirs of records dropped by `reclaimInterrupted`. */
export async function dropFiles(layout: Layout, dropped: VmRecord[]): Promise<void> {
  for (const vm of dropped) {
    await killLeftovers(layout, vm);
    const paths = vmPaths(layout, vm.id);
    await rm(paths.runDir, { recursive: true, force: true });
    await rm(paths.logDir, { recursive: true, force: true });
  }
}

export { findHypervisor };
