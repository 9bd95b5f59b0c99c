/**
 * `snapshot save`: pause → device + memory state → writable disks copied (reflink, else
 * sparse) → resume, always. The record is written `pending` first (invisible to list,
 * inspect and clone) and completed last; a save that dies is finished by its guard process
 * (see guard.ts) or the next cocoon-snap command, which resume the VM and remove the rest.
 */
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CocoonError, errnoCode, ExternalError, MissingDependencyError } from '@cocoon/common/errors';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { canSnapshot, vmPaths, type Hypervisor, type SavedState, type SnapshotCapable } from '@cocoon/common/hypervisor/index';
import { liveHypervisor } from '@cocoon/common/hypervisor/live';
import type { Layout } from '@cocoon/common/layout';
import { newId, validateVmName } from '@cocoon/common/refs';
import type { SnapshotDisk, SnapshotMachine, SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { copySparse, digestFile } from '@cocoon/common/snapshots/sparse';
import { assertNameFree, pendingByThisProcess, snapshotDir, snapshotIndex } from '@cocoon/common/snapshots/store';
import { withLock } from '@cocoon/common/store/lock';
import { vmIndex, vmLockFile } from '@cocoon/common/vms';
import { startGuard, stopGuard } from './guard.ts';

/** Budget for writing the device and memory state. */
const STATE_TIMEOUT_MS = 600_000;

export interface SaveRequest {
  vm: string;
  name?: string;
  description?: string;
}

/** Saves a snapshot of running VM `req.vm` and returns the completed record. */
export async function saveSnapshot(layout: Layout, req: SaveRequest): Promise<SnapshotRecord> {
  if (req.name !== undefined) validateVmName(req.name);
  const found = await vmIndex(layout).resolve(req.vm);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await vmIndex(layout).resolve(found.id);
    liveHypervisor(layout, vm, 'only a running VM can be snapshotted');
    const driver = driverFor(vm.hypervisor);
    if (!canSnapshot(driver)) throw new MissingDependencyError(`the ${vm.hypervisor} driver cannot snapshot`);
    const paths = vmPaths(layout, vm.id);
    const wasPaused = await driver.isPaused(paths);
    const record = await reserve(layout, vm, req, !wasPaused);
    const dir = snapshotDir(layout, record.id);
    const guard = await startGuard(layout, record.id);
    try {
      await mkdir(dir, { mode: 0o700 });
      const machine = await capture(driver, paths, vm, dir, wasPaused);
      const files = await Promise.all(
        [machine.state_file, ...machine.disks.flatMap((d) => (d.file ? [d.file] : [])), ...(machine.uefi_vars ? [machine.uefi_vars] : [])].sort().map(async (name) => ({ name, ...(await digestFile(join(dir, name))) })),
      );
      return await complete(layout, record.id, vm.id, { machine, files });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      await snapshotIndex(layout).update((items) => void items.delete(record.id));
      throw asCocoonError(err);
    } finally {
      stopGuard(guard);
    }
  });
}

/** Writes the pending record (the name is taken from now on). */
async function reserve(layout: Layout, vm: VmRecord, req: SaveRequest, pausesVm: boolean): Promise<SnapshotRecord> {
  const id = newId();
  const c = vm.config;
  const record: SnapshotRecord = {
    cpu: c.cpu,
    memory: c.memory,
    storage: c.storage,
    queue_size: c.queue_size,
    disk_queue_size: c.disk_queue_size,
    image: c.image,
    image_digest: c.image_digest,
    image_type: c.image_type,
    network: c.network,
    no_direct_io: c.no_direct_io,
    windows: c.windows,
    bridge: c.bridge,
    egress: c.egress,
    dns: c.dns,
    id,
    name: req.name ?? `${vm.config.name}-${id.slice(0, 8)}`,
    description: req.description,
    image_blob_ids: Object.fromEntries(vm.storage_configs.flatMap((d) => (d.role === 'layer' && blobOf(d.path) ? [[blobOf(d.path) as string, {}]] : []))),
    hypervisor: vm.hypervisor,
    nics: vm.nics,
    created_at: new Date().toISOString(),
    image_id: vm.image_id,
    vm_id: vm.id,
    ...pendingByThisProcess(),
    paused_by_save: pausesVm,
  };
  await snapshotIndex(layout).update((items) => {
    assertNameFree(items, record.name);
    items.set(id, record);
  });
  return record;
}

/** Pause, state, disks, resume (always, unless the VM was paused before). */
async function capture(driver: Hypervisor & SnapshotCapable, paths: ReturnType<typeof vmPaths>, vm: VmRecord, dir: string, wasPaused: boolean): Promise<SnapshotMachine> {
  if (!wasPaused) await driver.pause(paths);
  try {
    const saved = await driver.saveState(paths, dir, STATE_TIMEOUT_MS);
    const disks = layoutOf(vm, saved);
    for (const d of disks) if (d.file) await copySparse(vm.storage_configs.find((s) => s.serial === d.serial)?.path ?? '', join(dir, d.file));
    const uefi = vm.boot.firmware ? 'uefi-vars.fd' : undefined;
    if (uefi) await copySparse(paths.uefiVars, join(dir, uefi));
    return { accel: vm.accel, cmdline: vm.boot.cmdline, uefi_vars: uefi, disks, nics: vm.network_configs ?? [], state_file: saved.stateFile, vsock: vm.vsock_cid !== undefined, tuning: vm.tuning };
  } finally {
    if (!wasPaused) await driver.resume(paths);
  }
}

/** The attached disks as the snapshot records them: layers by blob, the rest as copied files. */
function layoutOf(vm: VmRecord, saved: SavedState): SnapshotDisk[] {
  return saved.disks.map((path) => {
    const d = vm.storage_configs.find((s) => s.path === path);
    if (!d) throw new ExternalError(`the hypervisor has a disk the VM record does not list: ${path}`);
    const { path: _path, ...rest } = d;
    const blob = d.role === 'layer' ? blobOf(path) : undefined;
    return blob ? { ...rest, blob } : { ...rest, file: basename(path) };
  });
}

/** The hex digest of an image-store disk (`…/blobs/sha256/<hex>.erofs`), if `path` is one. */
function blobOf(path: string): string | undefined {
  return /\/([0-9a-f]{64})\.(erofs|qcow2)$/.exec(path)?.[1];
}

/** Completes the record and lists it in the VM's `snapshot_ids`. */
async function complete(layout: Layout, id: string, vmId: string, extra: Pick<SnapshotRecord, 'machine' | 'files'>): Promise<SnapshotRecord> {
  const done = await snapshotIndex(layout).update((items) => {
    const s = items.get(id);
    if (!s) throw new ExternalError(`snapshot ${id.slice(0, 12)} disappeared while it was saved`);
    const { pending: _p, pending_pid: _pid, pending_start_time: _start, paused_by_save: _by, ...rest } = s;
    const next: SnapshotRecord = { ...rest, ...extra };
    items.set(id, next);
    return next;
  });
  await vmIndex(layout).update((items) => {
    const vm = items.get(vmId);
    if (vm) items.set(vmId, { ...vm, snapshot_ids: { ...vm.snapshot_ids, [id]: {} } });
  });
  return done;
}

/** A full disk is the user's problem to fix, not a bug: say so in one line. */
function asCocoonError(err: unknown): unknown {
  if (err instanceof CocoonError) return err;
  if (errnoCode(err) === 'ENOSPC') return new ExternalError('no space left on device while writing the snapshot (nothing was kept; the VM runs on)');
  return err;
}
