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
import { canGrowLive, canSnapshot, type GrowTarget, type Hypervisor, type LaunchSpec, type SnapshotCapable } from '@cocoon/common/hypervisor/index';
import { checkHostCpu } from '@cocoon/common/hypervisor/tuning';
import { formatSize } from '@cocoon/common/units';
import { toResolve } from '@cocoon/common/images/resolve';
import { imageIndex } from '@cocoon/common/images/store';
import type { Layout } from '@cocoon/common/layout';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { SnapshotMachine, SnapshotRecord } from '@cocoon/common/schemas/snapshot';
import type { StorageConfig, VmRecord, VmTuning } from '@cocoon/common/schemas/vm';
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

/** The most a VM launched from `l` can grow to, or null when its saved launch reserved no room. */
interface Room {
  cpu: number;
  memory: number;
  nics: number;
}

function roomOf(l: Launchable): Room | null {
  if (!canGrowLive(l.driver)) return { cpu: Infinity, memory: Infinity, nics: Infinity };
  const h = l.machine.tuning?.hotplug;
  if (!h) return null;
  const memory = h.dimms.length < h.slots ? h.max_memory : l.snapshot.memory;
  return { cpu: h.max_cpu, memory, nics: l.machine.nics.length + h.ports - h.nics };
}

/**
 * The resources a VM from `l` gets; throws a UsageError for a shrink, or growth the driver
 * cannot make, the saved launch has no room for, or (memory) in other than whole steps.
 */
export function grownResources(l: Launchable, asked: Resources): Required<Resources> {
  const s = l.snapshot;
  const can = l.driver.restoreChanges;
  const room = roomOf(l);
  const show = (flag: string, n: number) => (flag === 'memory' || flag === 'storage' ? formatSize(n) : String(n));
  const pick = (flag: 'cpu' | 'memory' | 'storage' | 'nics', want: number | undefined, have: number): number => {
    if (!want || want === have) return have;
    if (want < have) throw new UsageError(`--${flag}: ${show(flag, want)} is less than the snapshot's ${show(flag, have)}: a VM from a snapshot may only grow`);
    if (flag === 'storage') return want;
    if (!can[flag]) throw new UsageError(`--${flag}: the ${s.hypervisor} driver restores the saved machine as it was (${flag} ${show(flag, have)}); give ${show(flag, have)} or leave the flag out`);
    if (!room) throw new UsageError(`--${flag}: snapshot "${s.name}" is of a VM launched without room to grow (started before cocoon reserved it at every launch); give ${show(flag, have)} or leave the flag out`);
    if (want > room[flag]) throw new UsageError(`--${flag}: ${show(flag, want)} is more than the ${show(flag, room[flag])} the VM of snapshot "${s.name}" was launched with room for`);
    return want;
  };
  const res = { cpu: pick('cpu', asked.cpu, s.cpu), memory: pick('memory', asked.memory, s.memory), storage: pick('storage', asked.storage, s.storage), nics: pick('nics', asked.nics, s.nics) };
  if (res.cpu > s.cpu) checkHostCpu(res.cpu);
  const step = canGrowLive(l.driver) ? l.driver.memoryStep : 1;
  if ((res.memory - s.memory) % step !== 0) {
    throw new UsageError(`--memory: ${formatSize(res.memory)} grows the snapshot's ${formatSize(s.memory)} by ${formatSize(res.memory - s.memory)}; memory grows in steps of ${formatSize(step)}`);
  }
  return res;
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
 * The launch spec of `vm` (a clone, or the VM being restored) for the saved state: the saved
 * machine exactly, as its launch had it (vCPUs, memory, NICs, and the room to grow with what
 * was added live, re-created on the command line), every saved disk attached as it was (a cloud
 * VM's seed too, whatever `first_booted` says), and the source's device tuning (balloon,
 * watchdog, queue sizes: the guest saw them); only host-side choices (O_DIRECT) are this VM's own.
 */
export function savedSpec(layout: Layout, l: Launchable, vm: VmRecord): LaunchSpec {
  const spec = launchSpec(layout, { ...vm, first_booted: false }, l.machine.tuning?.hugepages);
  const saved = l.machine.tuning;
  const tuning = saved ? { ...saved, direct_io: spec.tuning.direct_io } : { ...spec.tuning, hotplug: undefined };
  const added = { cpu: tuning.hotplug?.cpus.length ?? 0, memory: (tuning.hotplug?.dimms ?? []).reduce((a, b) => a + b, 0) };
  return { ...spec, cpu: l.snapshot.cpu - added.cpu, memory: l.snapshot.memory - added.memory, nics: spec.nics.slice(0, l.machine.nics.length), tuning };
}

/**
 * The vCPU count cocoon-net sizes the NIC queues of a VM from `l` by: the saved NICs' queue
 * pairs (a clone's NICs replace the saved devices, which keep their queues), else the saved
 * launch's vCPUs. NICs added live get as many.
 */
export function nicQueueCpu(l: Launchable): number {
  const saved = l.machine.nics[0];
  if (saved) return Math.max(1, Math.floor(saved.num_queues / 2));
  return l.snapshot.cpu - (l.machine.tuning?.hotplug?.cpus.length ?? 0);
}

/** Launches `spec` from the saved state and leaves it paused. */
export async function launchSaved(l: Launchable, spec: LaunchSpec, timeoutMs: number, onDemand = false): Promise<{ pid: number }> {
  return l.driver.restore(spec, { dir: l.dir, stateFile: l.machine.state_file, timeoutMs, onDemand });
}

/**
 * Grows the running VM launched from `spec` to `to` (vCPUs, memory, every NIC in guest order)
 * before `deadline`; returns the tuning to record (`spec.tuning` when nothing grows).
 */
export async function growSaved(l: Launchable, spec: LaunchSpec, to: GrowTarget, deadline: number): Promise<VmTuning> {
  const h = spec.tuning.hotplug;
  const has = { cpu: spec.cpu + (h?.cpus.length ?? 0), memory: spec.memory + (h?.dimms ?? []).reduce((a, b) => a + b, 0) };
  if (to.cpu <= has.cpu && to.memory <= has.memory && to.nics.length <= spec.nics.length) return spec.tuning;
  if (!canGrowLive(l.driver)) throw new Error(`Assertion failed: the ${l.snapshot.hypervisor} driver cannot grow a VM live`);
  return { ...spec.tuning, hotplug: await l.driver.grow(spec, to, deadline) };
}
