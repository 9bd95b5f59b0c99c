/**
 * `vm restore VM SNAPSHOT`: rewinds a running VM to one of its own snapshots, in place: same
 * ID, name, run dir and network. Everything that can fail is done first, while the VM runs
 * on untouched: the snapshot's files are checked against their digests, its disk layout
 * against the VM's, the resources (only grow), and its writable disks are staged beside the
 * live ones. Only then is the hypervisor stopped, the staged disks renamed into place and
 * the saved state loaded.
 */
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidStateError, UsageError } from '@cocoon/common/errors';
import { vmPaths } from '@cocoon/common/hypervisor/index';
import type { Layout } from '@cocoon/common/layout';
import { procStat } from '@cocoon/common/proc';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { copySparse } from '@cocoon/common/snapshots/sparse';
import { findSnapshot } from '@cocoon/common/snapshots/store';
import { withLock } from '@cocoon/common/store/lock';
import { vmIndex, vmLockFile } from '@cocoon/common/vms';
import { growSaved, grownResources, launchable, launchSaved, requireImage, savedDisks, savedSpec, verifyFiles, type Launchable, type Resources } from './from-snapshot.ts';
import { setState } from './lifecycle.ts';
import { reidentify, REIDENTIFY_TIMEOUT_MS, type Grown } from './reidentify.ts';
import { liveHypervisor } from './state.ts';

const STAGED = '.restore';

/** Restores `ref` from `snapshotRef`; returns the running VM and the no-agent hints, if any. */
export async function restoreVm(layout: Layout, ref: string, snapshotRef: string, asked: Resources, timeoutMs: number): Promise<{ vm: VmRecord; hint: string | null }> {
  const found = await vmIndex(layout).resolve(ref);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await vmIndex(layout).resolve(found.id);
    const hypervisor = liveHypervisor(layout, vm, 'restore rewinds a running VM; clone the snapshot to start a new one');
    const snapshot = await findSnapshot(layout, snapshotRef);
    if (snapshot.vm_id !== vm.id && !vm.snapshot_ids?.[snapshot.id]) {
      throw new UsageError(`snapshot "${snapshot.name}" was not taken of VM "${vm.config.name}": restore only rewinds a VM to its own snapshots (clone it instead)`);
    }
    const l = launchable(layout, snapshot);
    const res = grownResources(l, asked);
    const image = await requireImage(layout, snapshot, async () => undefined, false);
    const paths = vmPaths(layout, vm.id);
    const disks = savedDisks(l, image, paths.runDir);
    preflightLayout(l, vm);
    await verifyFiles(l);
    const staged = await stage(l, paths.runDir);
    try {
      // Point of no return: the running hypervisor goes, the snapshot's comes.
      await l.driver.stop(paths, hypervisor.pid, { timeoutMs: 0, force: true });
      await l.driver.delete(paths);
      for (const [from, to] of staged) await rename(from, to);
    } catch (err) {
      await Promise.all(staged.map(([from]) => rm(from, { force: true })));
      throw err;
    }
    const next: VmRecord = { ...vm, storage_configs: disks, config: { ...vm.config, cpu: res.cpu, memory: res.memory, storage: res.storage } };
    let running: VmRecord;
    let grown: Grown | undefined;
    let pid = 0;
    const deadline = Date.now() + REIDENTIFY_TIMEOUT_MS;
    try {
      const spec = savedSpec(layout, l, next);
      ({ pid } = await launchSaved(l, spec, timeoutMs));
      const cow = next.storage_configs.findIndex((d) => d.role === 'cow');
      if (res.storage > snapshot.storage && cow >= 0) await l.driver.growDisk(paths, cow, res.storage);
      await l.driver.resume(paths);
      // The VM's own NICs beyond the saved ones (it grew since) are plugged again, like the vCPUs and memory asked for.
      const nics = vm.network_configs ?? [];
      const tuning = await growSaved(l, spec, { cpu: res.cpu, memory: res.memory, nics }, deadline);
      if (tuning !== spec.tuning) grown = { nics: nics.length - spec.nics.length };
      running = await setState(layout, vm.id, { ...next, state: 'running', pid, pid_start_time: procStat(pid)?.start, started_at: new Date().toISOString(), error: undefined, tuning });
    } catch (err) {
      // Never leave a hypervisor the record does not know of.
      if (pid) await l.driver.stop(paths, pid, { timeoutMs: 0, force: true }).catch(() => undefined);
      await setState(layout, vm.id, { state: 'error', pid: 0, pid_start_time: undefined, error: `restore from snapshot "${snapshot.name}" failed: ${(err as Error).message}` });
      throw err;
    }
    // The VM runs restored; a guest that cannot be reseeded is reported, the VM stays as it is.
    return { vm: running, hint: await reidentify(layout, running, { clone: false, deadline, grown }) };
  });
}

/** The snapshot's disks must be the VM's: same serials, roles and formats, in the same order. */
function preflightLayout(l: Launchable, vm: VmRecord): void {
  const saved = l.machine.disks.map((d) => `${d.serial}/${d.role}/${d.format}`).join(',');
  const live = vm.storage_configs.filter((d) => d.role !== 'cidata').map((d) => `${d.serial}/${d.role}/${d.format}`).join(',');
  const savedNoSeed = l.machine.disks.filter((d) => d.role !== 'cidata').map((d) => `${d.serial}/${d.role}/${d.format}`).join(',');
  if (savedNoSeed !== live) throw new InvalidStateError(`snapshot "${l.snapshot.name}" has disks ${saved}, VM "${vm.config.name}" has ${live}: they do not match`);
}

/** Copies the snapshot's writable files beside the live ones (`<file>.restore`); returns [staged, final] pairs. */
async function stage(l: Launchable, runDir: string): Promise<Array<[string, string]>> {
  const files = [...l.machine.disks.flatMap((d) => (d.file ? [[d.file, d.file]] : [])), ...(l.machine.uefi_vars ? [[l.machine.uefi_vars, 'uefi-vars.fd']] : [])];
  const pairs: Array<[string, string]> = [];
  try {
    for (const [from, to] of files) {
      const target = join(runDir, `${to}${STAGED}`);
      await rm(target, { force: true });
      await copySparse(join(l.dir, from as string), target);
      pairs.push([target, join(runDir, to as string)]);
    }
    return pairs;
  } catch (err) {
    await Promise.all(pairs.map(([f]) => rm(f, { force: true })));
    throw err;
  }
}
