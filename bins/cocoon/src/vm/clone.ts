/**
 * `vm clone`: new VMs from a snapshot, each with a fresh ID, name and identity. The saved
 * writable disks are copied (reflink, else sparse) into the clone's run dir; the state file
 * is read in place by every clone (never copied); the hypervisor resumes the saved machine,
 * and the guest agent re-identifies it. `--count N` makes N clones, as many at a time as the
 * host has cores.
 */
import { availableParallelism } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { vmPaths, type VmPaths } from '@cocoon/common/hypervisor/index';
import { UsageError } from '@cocoon/common/errors';
import { run } from '@cocoon/common/exec';
import type { Layout } from '@cocoon/common/layout';
import { procStat } from '@cocoon/common/proc';
import { newId, validateVmName } from '@cocoon/common/refs';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { VmRecord } from '@cocoon/common/schemas/vm';
import { copySparse } from '@cocoon/common/snapshots/sparse';
import { findSnapshot } from '@cocoon/common/snapshots/store';
import { growSaved, grownResources, launchable, launchSaved, nicQueueCpu, requireImage, savedDisks, savedSpec, type Launchable, type Resources } from './from-snapshot.ts';
import { hasVsock, insertVmRecord, setState } from './lifecycle.ts';
import { setupNetwork, teardownNetwork } from './network.ts';
import { creatorOfThisProcess, findHypervisor, killLeftovers } from './recovery.ts';
import { reidentify, REIDENTIFY_TIMEOUT_MS } from './reidentify.ts';
import { kernelCmdline } from './spec.ts';
import { vmIndex } from '@cocoon/common/vms';
import { mapLimit } from '@cocoon/common/map-limit';

export interface CloneRequest extends Resources {
  snapshot: string;
  /** The clone's name; with `count` > 1 a prefix (`<name>-1` …). */
  name?: string;
  count: number;
  noDirectIo: boolean;
  pull: boolean;
  onDemand: boolean;
  timeoutMs: number;
  /** Pulls an image by reference (the front end runs cocoon-image). */
  pullImage: (ref: string) => Promise<void>;
  /** Where the no-agent hints go. */
  warn: (text: string) => void;
  /** A conflist other than the snapshot's for the clones' NICs. */
  network?: string;
  /** DNS servers for the clones' NICs when the snapshot names none (the global `--dns`). */
  dns?: string[];
}

/** Makes `req.count` clones of `req.snapshot`: all of them, or none (the first failure is thrown once the rest settled). */
export async function cloneVms(layout: Layout, req: CloneRequest): Promise<VmRecord[]> {
  if (!Number.isInteger(req.count) || req.count < 1) throw new UsageError(`--count: "${req.count}" must be a whole number ≥ 1`);
  const names = Array.from({ length: req.count }, (_, i) => (req.name === undefined ? undefined : req.count === 1 ? req.name : `${req.name}-${i + 1}`));
  for (const n of names) if (n !== undefined) validateVmName(n);
  const l = launchable(layout, await findSnapshot(layout, req.snapshot));
  if (req.onDemand && !l.driver.restoreChanges.onDemand) throw new UsageError(`--on-demand: lazy memory restore needs Cloud Hypervisor; the ${l.snapshot.hypervisor} driver loads the whole state`);
  const res = grownResources(l, req);
  const image = await requireImage(layout, l.snapshot, req.pullImage, req.pull);
  const made: VmRecord[] = [];
  try {
    return await mapLimit(names, Math.max(1, availableParallelism()), async (name) => {
      const vm = await cloneOne(layout, l, image, { ...res, name }, req);
      made.push(vm);
      return vm;
    });
  } catch (err) {
    // Keep nothing of a partly failed pool: the caller asked for N, not fewer.
    for (const vm of made) await removeClone(layout, vm.id, vmPaths(layout, vm.id), l);
    throw err;
  }
}

/** One clone: record, disks, hypervisor from the saved state, resume, re-identify. */
async function cloneOne(layout: Layout, l: Launchable, image: ImageResolve, want: Required<Resources> & { name?: string }, req: CloneRequest): Promise<VmRecord> {
  const id = newId();
  const paths = vmPaths(layout, id);
  const record = cloneRecord(l, image, paths, id, want.name ?? `cocoon-clone-${id.slice(0, 8)}`, want, req);
  // NOTE: CH and FC always have their (hybrid) vsock: a clone without it would lose its agent.
  await insertVmRecord(layout, record, l.machine.vsock && hasVsock(l.snapshot.hypervisor));
  try {
    await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
    await mkdir(paths.logDir, { recursive: true, mode: 0o700 });
    if (record.nics > 0) Object.assign(record, await setState(layout, id, await cloneNetwork(layout, record, image, nicQueueCpu(l))));
    for (const d of l.machine.disks) if (d.file) await copySparse(join(l.dir, d.file), join(paths.runDir, d.file));
    if (l.machine.uefi_vars) await copySparse(join(l.dir, l.machine.uefi_vars), paths.uefiVars);
    await rebaseOverlays(l, image, paths.runDir);
    // Every saved disk is attached as it was (a cloud VM's seed too), whatever `first_booted` says.
    const spec = savedSpec(layout, l, record);
    const { pid } = await launchSaved(l, spec, req.timeoutMs, req.onDemand);
    // NOTE: recorded (with its start time) at once: a clone killed from here on leaves a
    // hypervisor its record names, which `rm` (or a create reclaiming the name) then kills.
    const pidStart = procStat(pid)?.start;
    await setState(layout, id, { pid, pid_start_time: pidStart });
    const cow = record.storage_configs.findIndex((d) => d.role === 'cow');
    if (want.storage > l.snapshot.storage && cow >= 0) await l.driver.growDisk(paths, cow, want.storage);
    await l.driver.resume(paths);
    // One deadline for the guest to take what is added live and to be re-identified.
    const deadline = Date.now() + REIDENTIFY_TIMEOUT_MS;
    const nics = record.network_configs ?? [];
    const tuning = await growSaved(l, spec, { cpu: want.cpu, memory: want.memory, nics }, deadline);
    const vm = await setState(layout, id, { state: 'running', pid, pid_start_time: pidStart, started_at: new Date().toISOString(), tuning, creator: undefined });
    const grown = tuning === spec.tuning ? undefined : { nics: nics.length - spec.nics.length };
    const hint = await reidentify(layout, vm, { clone: true, deadline, grown });
    if (hint) req.warn(hint);
    return vm;
  } catch (err) {
    await removeClone(layout, id, paths, l);
    throw err;
  }
}

/** The clone's record: the snapshot's config (grown as asked), its disks, a fresh name. */
function cloneRecord(l: Launchable, image: ImageResolve, paths: VmPaths, id: string, name: string, want: Required<Resources>, req: Pick<CloneRequest, 'noDirectIo' | 'network' | 'dns'>): VmRecord {
  const s = l.snapshot;
  const now = new Date().toISOString();
  const disks = savedDisks(l, image, paths.runDir);
  return {
    id,
    hypervisor: s.hypervisor,
    state: 'creating',
    // NOTE: until it runs, the record names this process: a clone killed half-way is then an
    // interrupted creation (shown as error, removed by rm, its name reclaimable).
    creator: creatorOfThisProcess(),
    config: {
      name,
      cpu: want.cpu,
      memory: want.memory,
      storage: want.storage,
      image: s.image,
      image_digest: s.image_digest,
      image_type: s.image_type,
      network: req.network ?? s.network,
      queue_size: s.queue_size,
      disk_queue_size: s.disk_queue_size,
      no_direct_io: req.noDirectIo || s.no_direct_io || undefined,
      windows: s.windows,
      bridge: req.network === undefined ? s.bridge : undefined,
      egress: s.egress,
      dns: s.dns ?? req.dns,
    },
    pid: 0,
    socket_path: paths.apiSocket,
    storage_configs: disks,
    first_booted: true,
    created_at: now,
    updated_at: now,
    accel: l.machine.accel,
    image_id: image.id,
    nics: want.nics,
    boot: { kernel: image.kernel, initrd: image.initrd, firmware: image.firmware, cmdline: image.kernel ? kernelCmdline(image, name, disks) : l.machine.cmdline },
  };
}

/**
 * A cloud image's overlay names its backing file by absolute path: point it at this host's
 * copy of the image (a snapshot imported from another host had another root). Metadata only.
 */
async function rebaseOverlays(l: Launchable, image: ImageResolve, runDir: string): Promise<void> {
  const base = image.disks[0]?.path;
  if (image.kind !== 'cloud' || !base) return;
  for (const d of l.machine.disks) {
    if (d.file && d.format === 'qcow2' && d.role === 'cow') await run('qemu-img', ['rebase', '-u', '-F', 'qcow2', '-b', base, join(runDir, d.file)]);
  }
}

/**
 * A fresh network for a clone, through the same per-VM setup `vm create` uses (cocoon-net: a
 * new netns, IP and MAC per NIC), with the saved NICs' queues (`queueCpu`); the kernel command
 * line follows for its next cold boot.
 */
async function cloneNetwork(layout: Layout, record: VmRecord, image: ImageResolve, queueCpu: number): Promise<Partial<VmRecord>> {
  const net = await setupNetwork(layout, { ...record, config: { ...record.config, cpu: queueCpu } });
  const config = net.network ? { ...record.config, network: net.network } : record.config;
  const cmdline = image.kernel ? kernelCmdline(image, record.config.name, record.storage_configs, net.network_configs, record.config.dns ?? []) : record.boot.cmdline;
  return { network_configs: net.network_configs, config, boot: { ...record.boot, cmdline } };
}

/** Undoes a clone: its hypervisor (PID verified, from the record or its pid file), files and record. */
async function removeClone(layout: Layout, id: string, paths: VmPaths, l: Launchable): Promise<void> {
  const vm = (await vmIndex(layout).list()).find((v) => v.id === id);
  const running = vm ? findHypervisor(layout, vm) : null;
  await l.driver.stop(paths, running?.pid ?? null, { timeoutMs: 0, force: true }).catch(() => undefined);
  await l.driver.delete(paths).catch(() => undefined);
  if (vm) await killLeftovers(layout, vm);
  if (vm?.network_configs) await teardownNetwork(layout, vm).catch(() => undefined);
  await rm(paths.runDir, { recursive: true, force: true });
  await rm(paths.logDir, { recursive: true, force: true });
  await vmIndex(layout).update((items) => void items.delete(id));
}
