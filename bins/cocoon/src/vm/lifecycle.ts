/**
 * VM lifecycle: create (record + COW disk), start, stop, remove. The index lock guards
 * the record; a per-VM lock guards the hypervisor process, so two `start`s of one VM
 * never launch two hypervisors. Every failure path removes what it made.
 */
import { rm } from 'node:fs/promises';
import { ConflictError, InvalidStateError, MissingDependencyError, NotFoundError } from '@cocoon/common/errors';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths, type Hypervisor, type LaunchSpec, type VmPaths } from '@cocoon/common/hypervisor/index';
import { hostHasVhostVsock, nextGuestCid } from '@cocoon/common/hypervisor/vsock';
import type { Layout } from '@cocoon/common/layout';
import { procStat } from '@cocoon/common/proc';
import { hostnameFor, newId, validateVmName } from '@cocoon/common/refs';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { VmConfig, VmRecord } from '@cocoon/common/schemas/vm';
import { log } from '@cocoon/common/log';
import { DEFAULT_ROTATION } from '@cocoon/common/log-rotate';
import { logSettings } from '@cocoon/common/log-settings';
import { withLock } from '@cocoon/common/store/lock';
import { appendMark, rotateVmLogs } from '@cocoon/common/vm-logs';
import { claimVmDirs, vmIndex, vmLockFile } from '@cocoon/common/vms';
import { createCowDisk } from './cow-disk.ts';
import { createDataDisks, dataDiskConfigs, type DataDiskSpec } from './data-disks.ts';
import { recoverNetwork, setupNetwork, teardownNetwork, type NetSpec } from './network.ts';
import { kernelCmdline, launchSpec, pmemPlan, vmDisks } from './spec.ts';
import { adoptLeftover, creatorOfThisProcess, dropFiles, findHypervisor, killLeftovers, reclaimInterrupted, refuseBeingCreated, refuseUnfinished } from './recovery.ts';

export interface CreateRequest {
  name: string | undefined;
  image: ImageResolve;
  imageRef: string;
  cpu: number;
  memory: number;
  storage: number;
  nics: number;
  hypervisor: VmRecord['hypervisor'];
  accel: VmRecord['accel'];
  /** Go-cocoon config keys recorded as given (`network`, `no_direct_io` …). */
  extra?: Pick<VmConfig, 'network' | 'no_direct_io' | 'windows' | 'queue_size' | 'disk_queue_size'>;
  dataDisks?: DataDiskSpec[];
  /** The cloud-init login (cloud images); the password is only ever stored hashed, in the seed. */
  login?: { user: string; password: string };
  /** DNS servers for static NICs (seed, kernel command line). */
  dns?: string[];
  /** The network of the `nics` NICs: conflist or bridge, published ports, egress policy. */
  net?: NetSpec;
}

/**
 * The record a create would write, without touching the disk or the index (`vm debug
 * IMAGE` prints its launch; `createVm` writes it).
 */
export function planVm(layout: Layout, req: CreateRequest, id = newId()): VmRecord {
  const name = req.name ?? `vm-${id.slice(0, 8)}`;
  validateVmName(name);
  const paths = vmPaths(layout, id);
  const now = new Date().toISOString();
  const data = dataDiskConfigs(paths.runDir, req.dataDisks ?? []);
  const pmem = pmemPlan(req.image, req.hypervisor);
  const storage = vmDisks(req.image, paths, data, req.extra?.windows === true, pmem);
  return {
    id,
    hypervisor: req.hypervisor,
    state: 'creating',
    config: {
      name,
      cpu: req.cpu,
      memory: req.memory,
      storage: req.storage,
      image: req.imageRef,
      image_digest: req.image.digest,
      image_type: req.image.kind === 'cloud' ? 'cloudimg' : 'oci',
      ...req.extra,
      ...netConfig(req),
    },
    pid: 0,
    socket_path: paths.apiSocket,
    storage_configs: storage,
    first_booted: false,
    created_at: now,
    updated_at: now,
    accel: req.accel,
    image_id: req.image.id,
    nics: req.nics,
    boot: { kernel: req.image.kernel, initrd: req.image.initrd, firmware: req.image.firmware, cmdline: kernelCmdline(req.image, name, storage) },
    ...(pmem.notice ? { notice: pmem.notice } : {}),
  };
}

/** Whether a new VM of `hypervisor` gets a guest CID: Cloud Hypervisor and Firecracker always have a (hybrid) vsock device; QEMU only with vhost-vsock. */
export function hasVsock(hypervisor: VmRecord['hypervisor']): boolean {
  return hypervisor !== 'qemu' || hostHasVhostVsock();
}

/**
 * The guest CID a create would allocate now (`vm debug IMAGE` shows the vsock device a new VM
 * gets; the real allocation happens under the index lock in `insertVmRecord`).
 */
export async function plannedGuestCid(layout: Layout, hypervisor: VmRecord['hypervisor']): Promise<number | undefined> {
  if (!hasVsock(hypervisor)) return undefined;
  return nextGuestCid((await vmIndex(layout).list()).map((vm) => vm.vsock_cid ?? null));
}

/**
 * Creates a VM: reserves the name, makes its disks, records it as `created`. With
 * `startTimeoutMs` (`vm run`) it is started at once instead, straight from `creating`: the
 * index is written twice (creating, running) rather than three times, and a VM that does
 * not start is removed again (nothing is left behind).
 */
export async function createVm(layout: Layout, req: CreateRequest, startTimeoutMs?: number): Promise<VmRecord> {
  // NOTE: the record names this process as its creator until it is `created`: if this process
  // dies half-way, the next command knows the record was abandoned (recovery.ts).
  const record: VmRecord = { ...planVm(layout, req), creator: creatorOfThisProcess() };
  const { id } = record;
  const name = record.config.name;
  const paths = vmPaths(layout, id);
  await insertVmRecord(layout, record, hasVsock(req.hypervisor));
  try {
    await claimVmDirs(layout, id);
    if (record.nics > 0) {
      const net = await setupNetwork(layout, record);
      record.network_configs = net.network_configs;
      if (net.network) record.config.network = net.network;
      record.boot.cmdline = kernelCmdline(req.image, name, record.storage_configs, net.network_configs, req.dns);
    }
    const storage = req.image.kind === 'cloud' ? await prepareCloudDisks(req, paths, record) : await createCowDisk(layout, paths.cowDisk, req.storage).then(() => req.storage);
    await createDataDisks(req.dataDisks ?? [], record.storage_configs.filter((d) => d.role === 'data'));
    await driverFor(record.hypervisor).create(launchSpec(layout, record));
    const made = { config: { ...record.config, storage }, network_configs: record.network_configs, boot: record.boot, creator: undefined };
    if (startTimeoutMs === undefined) return await setState(layout, id, { state: 'created', ...made });
    Object.assign(record, made);
  } catch (err) {
    await undoCreate(layout, record);
    throw err;
  }
  // NOTE: `vm run`: the creator goes from the record with the running state (one write).
  return withLock(vmLockFile(layout, id), async () => {
    const driver = driverFor(record.hypervisor);
    try {
      return await startRecorded(layout, driver, record, launchSpec(layout, record), startTimeoutMs, { ...record, creator: undefined });
    } catch (err) {
      await driver.stop(paths, findHypervisor(layout, { ...record, pid: 0 })?.pid ?? null, { timeoutMs: 0, force: true }).catch(() => undefined);
      await driver.delete(paths).catch(() => undefined);
      await undoCreate(layout, record);
      throw err;
    }
  });
}

/** Removes what a create made (a failure, or a `vm run` whose VM did not start). */
async function undoCreate(layout: Layout, record: VmRecord): Promise<void> {
  const paths = vmPaths(layout, record.id);
  // NOTE: cocoon-net undid its own work if it failed; this covers a failure after it succeeded.
  if (record.network_configs) await teardownNetwork(layout, record).catch(() => undefined);
  await rm(paths.runDir, { recursive: true, force: true });
  await rm(paths.logDir, { recursive: true, force: true });
  await vmIndex(layout).update((items) => void items.delete(record.id));
}

/**
 * Launches `vm`'s hypervisor (the caller holds the VM lock) and records it running (with
 * `patch`). NOTE: the record is written while the hypervisor comes up (the index write and
 * its start overlap); on a failed start that write is awaited, so the caller's next write
 * (error, removal) lands after it.
 */
async function startRecorded(layout: Layout, driver: Hypervisor, vm: VmRecord, spec: LaunchSpec, timeoutMs: number, patch: Partial<VmRecord> = {}): Promise<VmRecord> {
  let written: Promise<VmRecord> | undefined;
  const record = (pid: number) =>
    setState(layout, vm.id, { ...patch, state: 'running', pid, pid_start_time: procStat(pid)?.start, started_at: new Date().toISOString(), error: undefined, first_booted: true, tuning: spec.tuning });
  try {
    const { pid } = await driver.start(spec, timeoutMs, (p) => {
      written = record(p);
      written.catch(() => undefined);
    });
    return await (written ?? record(pid));
  } catch (err) {
    await written?.catch(() => undefined);
    throw err;
  }
}

/**
 * Adds a `creating` record (naming its creator, `creatorOfThisProcess()`), reserving its name
 * (unique regardless of case, because the name becomes the guest hostname and DNS ignores case)
 * and, with `vsock`, a guest CID. An interrupted create holding the name gives it up first.
 */
export async function insertVmRecord(layout: Layout, record: VmRecord, vsock: boolean): Promise<void> {
  const name = record.config.name;
  const reclaimed = await vmIndex(layout).update((items) => {
    // NOTE: a create that was killed half-way gives its name up, as it would have on failure.
    const dropped = reclaimInterrupted(items, name);
    const folded = name.toLowerCase();
    for (const vm of items.values()) {
      if (vm.config.name.toLowerCase() === folded) throw new ConflictError(`VM name "${name}" already exists (${vm.id.slice(0, 12)})`);
    }
    // NOTE: the CID is allocated under the index lock, so two creates never share one.
    if (vsock) record.vsock_cid = nextGuestCid([...items.values()].map((vm) => vm.vsock_cid ?? null));
    items.set(record.id, record);
    return dropped;
  });
  await dropFiles(layout, reclaimed);
}

/** The VM config keys of the network request (kept with the config so clones get the same network). */
function netConfig(req: CreateRequest): Partial<VmConfig> {
  const net = req.net;
  if (!net || req.nics === 0) return {};
  return {
    ...(net.network ? { network: net.network } : {}),
    ...(net.bridge ? { bridge: net.bridge } : {}),
    ...(net.publish.length > 0 ? { publish: net.publish } : {}),
    ...(net.egress ? { egress: net.egress } : {}),
    ...(req.dns ? { dns: req.dns } : {}),
    ...(req.login && req.image.kind === 'cloud' ? { user: req.login.user } : {}),
  };
}

/** The root overlay, UEFI variables and NoCloud seed (not for Windows) of a cloud-image VM; returns the disk size. */
async function prepareCloudDisks(req: CreateRequest, paths: VmPaths, vm: VmRecord): Promise<number> {
  const image = req.image;
  const base = image.disks[0];
  if (!base) throw new InvalidStateError(`image "${image.name}" has no disk`);
  if (!image.firmware) throw new MissingDependencyError('UEFI firmware /usr/share/OVMF/OVMF_CODE.fd not found: install the Debian package ovmf');
  // NOTE: imported here: they run qemu-img and mkfs.vfat (execa), which an OCI VM never needs.
  const [{ createSeedDisk, hashPassword }, { createCloudOverlay, createUefiVars }] = await Promise.all([import('./cidata.ts'), import('./cloud-disk.ts')]);
  const size = await createCloudOverlay(base.path, paths.rootDisk, vm.config.storage);
  await createUefiVars(paths.uefiVars);
  if (vm.config.windows) return size;
  const login = req.login ?? { user: 'root', password: 'cocoon' };
  await createSeedDisk(paths.seedDisk, {
    instanceId: vm.id,
    hostname: hostnameFor(vm.config.name),
    user: login.user,
    passwordHash: await hashPassword(login.password),
    nics: vm.network_configs ?? [],
    dns: req.dns ?? [],
    disks: vm.storage_configs,
  });
  return size;
}

/** Starts a created or stopped VM and waits until its hypervisor answers. */
export async function startVm(layout: Layout, ref: string, timeoutMs: number): Promise<VmRecord> {
  const found = await vmIndex(layout).resolve(ref);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await resolveLocked(layout, found.id, ref);
    refuseUnfinished(vm);
    const running = findHypervisor(layout, vm);
    if (running?.known) throw new InvalidStateError(`VM "${vm.config.name}" is already running`);
    const driver = driverFor(vm.hypervisor);
    markVmLogs(layout, vm.id, 'start');
    try {
      // A netns (or host TAP) that vanished, e.g. with a host reboot, is made again: same MACs and IPs.
      const recovered = await recoverNetwork(layout, vm);
      if (recovered) Object.assign(vm, await setState(layout, vm.id, { network_configs: recovered }));
      const spec = launchSpec(layout, vm);
      // A start killed after launching the hypervisor left it running unrecorded: take it over.
      const adopted = running ? await adoptLeftover(driver, spec, running, timeoutMs) : null;
      if (!adopted) return await startRecorded(layout, driver, vm, spec, timeoutMs);
      const started = { pid: adopted.pid, pid_start_time: procStat(adopted.pid)?.start, started_at: new Date().toISOString(), error: undefined, first_booted: true, tuning: spec.tuning };
      return await setState(layout, vm.id, { state: 'running', ...started });
    } catch (err) {
      // NOTE: a failed start leaves no sockets or pid file behind (the disks stay: the VM does).
      await driver.delete(vmPaths(layout, vm.id));
      await setState(layout, vm.id, { state: 'error', pid: 0, error: (err as Error).message });
      throw err;
    }
  });
}

/** Stops a VM: ACPI power button, then SIGTERM, then SIGKILL (PID verified each time). */
export async function stopVm(layout: Layout, ref: string, opts: { timeoutMs: number; force: boolean }): Promise<{ vm: VmRecord; outcome: string }> {
  const found = await vmIndex(layout).resolve(ref);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await resolveLocked(layout, found.id, ref);
    const paths = vmPaths(layout, vm.id);
    const driver = driverFor(vm.hypervisor);
    const running = findHypervisor(layout, vm);
    const outcome = await driver.stop(paths, running?.pid ?? null, opts);
    await driver.delete(paths);
    if (outcome !== 'not-running') markVmLogs(layout, vm.id, 'stop');
    const stopped = running !== null || vm.state === 'running' || vm.state === 'paused' || vm.state === 'error';
    const next: Partial<VmRecord> = stopped ? { state: 'stopped', pid: 0, pid_start_time: undefined, stopped_at: new Date().toISOString() } : {};
    return { vm: await setState(layout, vm.id, next), outcome };
  });
}

/** Removes a VM's record and files; a running VM needs `force` (it is killed first). */
export async function removeVm(layout: Layout, ref: string, force: boolean): Promise<VmRecord> {
  const found = await vmIndex(layout).resolve(ref);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await resolveLocked(layout, found.id, ref);
    const paths = vmPaths(layout, vm.id);
    const driver = driverFor(vm.hypervisor);
    refuseBeingCreated(vm);
    const running = findHypervisor(layout, vm);
    if (running) {
      // NOTE: an interrupted creation goes whole without --force: its hypervisor (a clone killed
      // after launching it) was never a running VM of the user's.
      if (!force && vm.state !== 'creating') throw new InvalidStateError(`VM "${vm.config.name}" is running; stop it first or use --force`);
      await driver.stop(paths, running.pid, { timeoutMs: 0, force: true });
    }
    await driver.delete(paths);
    await killLeftovers(layout, vm);
    const leftovers = await teardownNetwork(layout, vm);
    // The VM goes anyway: what its network left is in the networks index, for `cocoon net del` or gc.
    for (const what of leftovers) log().warn(what);
    await rm(paths.runDir, { recursive: true, force: true });
    await rm(paths.logDir, { recursive: true, force: true });
    // NOTE: the record goes last, so a killed `vm rm` leaves the VM listed and the same `vm rm`
    // finishes it (the kill campaign's retry); its run dir is gone then, its disks with it.
    await vmIndex(layout).update((items) => void items.delete(vm.id));
    return vm;
  });
  // NOTE: the lock file is kept: unlinking it would let a waiter lock the old inode while a
  // newcomer locks a new file (the flock/unlink race). cocoon-gc sweeps the files of gone VMs.
}

/**
 * The record again, now under the VM's lock. A VM removed meanwhile (a concurrent `rm`) is
 * reported with the reference the user gave, the same words as when it was already gone.
 */
async function resolveLocked(layout: Layout, id: string, ref: string): Promise<VmRecord> {
  const vm = (await vmIndex(layout).load()).get(id);
  if (!vm) throw new NotFoundError(`VM not found: ${ref}`);
  return vm;
}

/**
 * At start: rotates the VM's logs when due (its hypervisor is not running: a rename is safe)
 * and marks where this boot's console output begins; at stop, where it ends (`vm logs
 * --since`). A log dir that cannot be written only costs the marks, never the start or stop.
 */
function markVmLogs(layout: Layout, id: string, event: 'start' | 'stop'): void {
  const paths = vmPaths(layout, id);
  try {
    if (event === 'start') rotateVmLogs(paths, logSettings().settings.rotation ?? DEFAULT_ROTATION, false);
    appendMark(paths, event);
  } catch (err) {
    log().warn({ err: (err as Error).message, vm: id }, 'VM log rotation or mark failed');
  }
}

/** Patches a VM record under the index lock and returns the new record. */
export async function setState(layout: Layout, id: string, patch: Partial<VmRecord>): Promise<VmRecord> {
  return vmIndex(layout).update((items) => {
    const vm = items.get(id);
    if (!vm) throw new InvalidStateError(`VM ${id.slice(0, 12)} disappeared from the index`);
    const next = { ...vm, ...patch, updated_at: new Date().toISOString() };
    items.set(id, next);
    return next;
  });
}
