/**
 * What clone and restore share: the checks a snapshot must pass before a VM is touched
 * (hypervisor here, image and layer blobs present, files whole, resources only grow), and
 * the launch of a hypervisor from the saved state with the saved device layout.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidDataError, MissingDependencyError, NotFoundError, UsageError } from '@cocoon/common/errors';
import { CH_BINARY } from '@cocoon/common/hypervisor/cloud-hypervisor/args';
import { driverFor, onPath } from '@cocoon/common/hypervisor/drivers';
import { FC_BINARY } from '@cocoon/common/hypervisor/firecracker/requests';
import { QEMU_BINARY } from '@cocoon/common/hypervisor/qemu/args';
import type { HypervisorKind } from '@cocoon/common/schemas/config';
import { canSnapshot, type Hypervisor, type LaunchSpec, type SnapshotCapable } from '@cocoon/common/hypervisor/index';
import { toResolve } from '@cocoon/common/images/resolve';
import { imageIndex } from '@cocoon/common/images/store';
import type { Layout } from '@cocoon/common/layout';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { SnapshotMachine, SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import type { StorageConfig, VmRecord } from '@cocoon/common/schemas/vm';
import { launchSpec } from './spec.ts';
import { digestFile } from '@cocoon/common/snapshots/sparse';
import { snapshotDir } from '@cocoon/common/snapshots/store';

/** The executable each hypervisor kind needs on this host. */
const BINARIES: Record<HypervisorKind, string> = { qemu: QEMU_BINARY, 'cloud-hypervisor': CH_BINARY, firecracker: FC_BINARY };

/** A snapshot that can be launched here: its driver and saved machine. */
export interface Launchable {
  snapshot: SnapshotRecord;
  machine: SnapshotMachine;
  driver: Hypervisor & SnapshotCapable;
  dir: string;
}

/** Refuses a snapshot this host cannot launch (an unavailable hypervisor, a Go-format snapshot). */
export function launchable(layout: Layout, snapshot: SnapshotRecord): Launchable {
  const binary = BINARIES[snapshot.hypervisor];
  if (!onPath(binary)) throw new MissingDependencyError(`snapshot "${snapshot.name}" was taken on ${snapshot.hypervisor}, which is not available on this host (${binary} not found)`);
  const driver: Hypervisor = driverFor(snapshot.hypervisor);
  if (!canSnapshot(driver)) throw new MissingDependencyError(`the ${snapshot.hypervisor} driver cannot restore snapshots`);
  if (!snapshot.machine) throw new MissingDependencyError(`snapshot "${snapshot.name}" has no machine layout cocoon can launch (it was made by the Go cocoon for ${snapshot.hypervisor})`);
  return { snapshot, machine: snapshot.machine, driver, dir: snapshotDir(layout, snapshot.id) };
}

/** Resource flags of clone/restore: 0 or absent inherits; less is refused; more only where the driver can. */
export interface Resources {
  cpu?: number;
  memory?: number;
  storage?: number;
  nics?: number;
}

/** The resources a VM from `l` gets; throws a UsageError for a shrink or a change the driver cannot make. */
export function grownResources(l: Launchable, asked: Resources): Required<Resources> {
  const s = l.snapshot;
  const pick = (flag: string, want: number | undefined, have: number, canGrow: boolean): number => {
    if (!want) return have;
    if (want < have) throw new UsageError(`--${flag}: ${want} is less than the snapshot's ${have}: a VM from a snapshot may only grow`);
    if (want > have && !canGrow) throw new UsageError(`--${flag}: the ${s.hypervisor} driver restores the saved machine as it was (${flag} ${have}); give ${have} or leave the flag out`);
    return want;
  };
  const can = l.driver.restoreChanges;
  return {
    cpu: pick('cpu', asked.cpu, s.cpu, can.cpu),
    memory: pick('memory', asked.memory, s.memory, can.memory),
    storage: pick('storage', asked.storage, s.storage, true),
    nics: pick('nics', asked.nics, s.nics, can.nics),
  };
}

/** The snapshot's image from the local store (by digest, then ID), or null. */
export async function snapshotImage(layout: Layout, s: SnapshotRecord): Promise<ImageResolve | null> {
  const images = await imageIndex(layout).list();
  const record = images.find((i) => i.digest === s.image_digest) ?? images.find((i) => i.id === s.image_id);
  return record ? toResolve(layout, record) : null;
}

/** The image, pulled by its recorded digest first when `pull` and it is missing. */
export async function requireImage(layout: Layout, s: SnapshotRecord, pull: (ref: string) => Promise<void>, allowPull: boolean): Promise<ImageResolve> {
  let image = await snapshotImage(layout, s);
  if (!image && allowPull) {
    await pull(`${s.image.replace(/@sha256:[0-9a-f]{64}$/, '')}@${s.image_digest}`);
    image = await snapshotImage(layout, s);
  }
  if (!image) throw new NotFoundError(`image ${s.image} (${s.image_digest.slice(0, 19)}…) of snapshot "${s.name}" is not on this host: pull it, or clone with --pull`);
  return image;
}

/**
 * The disks of a VM launched from `l`, in the saved attach order: image layers from the
 * store (each must exist), the copied files at `fileDir/<file>`.
 */
export function savedDisks(l: Launchable, image: ImageResolve, fileDir: string): StorageConfig[] {
  return l.machine.disks.map(({ blob, file, ...d }) => {
    if (file) return { ...d, path: join(fileDir, file) };
    const disk = image.disks.find((i) => blob !== undefined && i.path.includes(blob));
    if (!disk || !existsSync(disk.path)) throw new NotFoundError(`layer ${blob?.slice(0, 12)} of snapshot "${l.snapshot.name}" is missing from the image store; pull image ${l.snapshot.image} again`);
    return { ...d, path: disk.path };
  });
}

/** Checks every file of the snapshot against its recorded size and digest (a truncated or corrupt snapshot fails here). */
export async function verifyFiles(l: Launchable): Promise<void> {
  const files = l.snapshot.files ?? [];
  const needed = [l.machine.state_file, ...l.machine.disks.flatMap((d) => (d.file ? [d.file] : []))];
  for (const name of needed) if (!files.some((f) => f.name === name)) throw new InvalidDataError(`snapshot "${l.snapshot.name}" does not list its file ${name}`);
  await Promise.all(
    files.map(async (f) => {
      const path = join(l.dir, f.name);
      if (!existsSync(path)) throw new InvalidDataError(`snapshot "${l.snapshot.name}" is incomplete: ${f.name} is missing`);
      const got = await digestFile(path);
      if (got.size !== f.size || got.digest !== f.digest) throw new InvalidDataError(`snapshot "${l.snapshot.name}" is damaged: ${f.name} does not match its recorded size and digest`);
    }),
  );
}

/**
 * The launch spec of `vm` (a clone, or the VM being restored) for the saved state: every
 * saved disk attached as it was (a cloud VM's seed too, whatever `first_booted` says), the
 * saved vCPUs and memory, and the source's device tuning (balloon, watchdog, queue sizes:
 * the guest saw them); only host-side choices (O_DIRECT) are this VM's own.
 */
export function savedSpec(layout: Layout, l: Launchable, vm: VmRecord): LaunchSpec {
  const spec = launchSpec(layout, { ...vm, first_booted: false }, l.machine.tuning?.hugepages);
  const tuning = l.machine.tuning ? { ...l.machine.tuning, direct_io: spec.tuning.direct_io } : spec.tuning;
  return { ...spec, cpu: l.snapshot.cpu, memory: l.snapshot.memory, tuning };
}

/** Launches `spec` from the saved state and leaves it paused. */
export async function launchSaved(l: Launchable, spec: LaunchSpec, timeoutMs: number, onDemand = false): Promise<{ pid: number }> {
  return l.driver.restore(spec, { dir: l.dir, stateFile: l.machine.state_file, timeoutMs, onDemand });
}
