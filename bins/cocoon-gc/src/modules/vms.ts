/**
 * VMs: records left in `creating` by a creator that died (a killed `vm create`), run dirs
 * without a record, and per-VM lock files without a record. A leftover process using such
 * a run dir (a hypervisor or agent relay nobody can manage any more) is ended first. A VM
 * with a live hypervisor is never touched.
 *
 * Invariants this relies on (every command that makes a VM keeps them): the record is
 * written (as `creating`) before the VM's run dir is made, and removed before it; and a
 * `creating` record names its creator process (`creator`: PID and start time). A `creating`
 * record whose creator is gone is therefore abandoned, whatever its age: unlike the Go
 * cocoon, which waits 24 h because it cannot tell, gc collects it at once (a creator still
 * alive after 24 h is reported and left alone).
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { tryLock, type HeldLock } from '@cocoon/common/store/lock';
import { creationInterrupted, isLive, liveState } from '@cocoon/common/hypervisor/live';
import { vmIndex, vmLockFile } from '@cocoon/common/vms';
import { diskBytes, names, type GcAction, type GcContext, type GcModule } from '../module.ts';
import { ownedByRoot } from '../owner.ts';
import { killProcessesUsing } from '../procs.ts';

const ID = /^[0-9a-f]{32}$/;
export const CREATING_MAX_MS = 24 * 3_600_000;

interface VmsState {
  records: VmRecord[];
  live: Set<string>;
  /** `creating` records whose creator is gone, with their VM lock (taken here, held until collected). */
  dead: Map<string, HeldLock>;
  runDirs: string[];
  lockIds: string[];
}

/** Files a VM record keeps in use: its disks, and its kernel and initrd with their folder. */
function usedPaths(vm: VmRecord): string[] {
  const boot = [vm.boot.kernel, vm.boot.initrd].filter((p): p is string => p !== null);
  return [...vm.storage_configs.map((d) => d.path), ...boot, ...boot.map((p) => dirname(p))];
}

export const vmsModule: GcModule<VmsState> = {
  name: 'vms',
  lockFile: (layout) => layout.vms.lock,
  async read(ctx) {
    const { layout } = ctx;
    const records = await vmIndex(layout).list();
    const live = new Set(records.filter((vm) => isLive(liveState(layout, vm))).map((vm) => vm.id));
    const dead = new Map<string, HeldLock>();
    for (const vm of records.filter((r) => r.state === 'creating' && !live.has(r.id))) {
      const lock = await creatorGone(vm, ctx);
      if (lock) dead.set(vm.id, lock);
    }
    const runDirs = (await names(layout.run)).filter((n) => ID.test(n));
    const lockIds = (await names(join(layout.locks, 'vms'))).flatMap((n) => (/^[0-9a-f]{32}\.lock$/.test(n) ? [n.slice(0, 32)] : []));
    return { records, live, dead, runDirs, lockIds };
  },
  // A dead creator's record holds nothing: its network, dirs and logs go in this same cycle.
  holds: (state) => {
    const kept = state.records.filter((vm) => !state.dead.has(vm.id));
    return { vms: new Set(kept.map((vm) => vm.id)), liveVms: state.live, paths: new Set(kept.flatMap(usedPaths)) };
  },
  async plan(state, holds, ctx) {
    const actions: GcAction[] = [];
    for (const vm of state.records) {
      const lock = state.dead.get(vm.id);
      if (lock) actions.push(await unfinished(vm, lock, ctx));
    }
    for (const id of state.runDirs) {
      const dir = ctx.layout.vmRunDir(id);
      if (holds.vms.has(id) || state.dead.has(id) || !(await ownedByRoot(dir, ctx.layout))) continue;
      actions.push({ module: 'vms', kind: 'run-dir', target: dir, bytes: await diskBytes(dir), reason: 'no VM record', collect: () => removeRunDir(dir) });
    }
    for (const id of state.lockIds.filter((i) => !holds.vms.has(i) && !state.dead.has(i))) {
      const action = await lockAction(ctx, id);
      if (action) actions.push(action);
    }
    return actions;
  },
};

/**
 * The VM lock of a `creating` record whose creator is gone (taken here, held until the
 * record is removed, so no `vm rm` of it runs meanwhile); null while the creator works on it.
 */
async function creatorGone(vm: VmRecord, ctx: GcContext): Promise<HeldLock | null> {
  if (!creationInterrupted(vm)) {
    if (ctx.now - Date.parse(vm.created_at) > CREATING_MAX_MS) ctx.notice(`VM "${vm.config.name}" (${vm.id.slice(0, 12)}) has been creating for over 24 h and its creator still runs; left alone`);
    return null;
  }
  return tryLock(vmLockFile(ctx.layout, vm.id));
}

/**
 * A record left in `creating` by a dead creator: its processes, run dir, the record, the lock
 * file (its log dir and network no longer have a record either: the logs and networks modules
 * take them in the same cycle).
 */
async function unfinished(vm: VmRecord, lock: HeldLock, ctx: GcContext): Promise<GcAction> {
  const paths = vmPaths(ctx.layout, vm.id);
  const minutes = Math.floor((ctx.now - Date.parse(vm.created_at)) / 60_000);
  return {
    module: 'vms',
    kind: 'record',
    target: vm.id,
    bytes: await diskBytes(paths.runDir),
    reason: `VM "${vm.config.name}" was left half-made (creating, ${minutes} min old, its creator is gone)`,
    collect: async () => {
      try {
        await removeRunDir(paths.runDir);
        // NOTE: the cycle holds the VM index lock already.
        await vmIndex(ctx.layout).updateHeld((items) => void items.delete(vm.id));
        await rm(vmLockFile(ctx.layout, vm.id), { force: true });
      } finally {
        lock.release();
      }
    },
    release: () => lock.release(),
  };
}

async function removeRunDir(dir: string): Promise<void> {
  await killProcessesUsing(dir);
  await rm(dir, { recursive: true, force: true });
}

/**
 * A per-VM lock file of a VM without a record, taken here (held until removed); null while
 * some process holds it (a `vm create` takes its VM's lock before it writes the record).
 */
async function lockAction(ctx: GcContext, id: string): Promise<GcAction | null> {
  const file = vmLockFile(ctx.layout, id);
  const lock = await tryLock(file);
  if (!lock) return null;
  return {
    module: 'vms',
    kind: 'lock-file',
    target: file,
    bytes: 0,
    reason: 'no VM record',
    collect: async () => {
      try {
        await rm(file, { force: true });
      } finally {
        lock.release();
      }
    },
    release: () => lock.release(),
  };
}
