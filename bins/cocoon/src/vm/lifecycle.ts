/**
 * VM lifecycle: create (record + COW disk), start, stop, remove. The index lock guards
 * the record; a per-VM lock guards the hypervisor process, so two `start`s of one VM
 * never launch two hypervisors. Every failure path removes what it made.
 */
import { readFile, rm } from 'node:fs/promises';
import { ConflictError, InvalidStateError, MissingDependencyError } from '@cocoon/common/errors';
import { driverFor } from '@cocoon/common/hypervisor/drivers';
import { vmPaths, type VmPaths } from '@cocoon/common/hypervisor/index';
import { pidBelongsTo } from '@cocoon/common/hypervisor/process';
import { hostHasVhostVsock, nextGuestCid } from '@cocoon/common/hypervisor/vsock';
import type { Layout } from '@cocoon/common/layout';
import { hostnameFor, newId, validateVmName } from '@cocoon/common/refs';
import type { ImageResolve } from '@cocoon/common/schemas/image';
import type { VmConfig, VmRecord } from '@cocoon/common/schemas/vm';
import { log } from '@cocoon/common/log';
import { DEFAULT_ROTATION } from '@cocoon/common/log-rotate';
import { logSettings } from '@cocoon/common/log-settings';
import { acquireLock, withLock } from '@cocoon/common/store/lock';
import { appendMark, rotateVmLogs } from '@cocoon/common/vm-logs';
import { claimVmDirs, vmIndex, vmLockFile } from '@cocoon/common/vms';
import { createSeedDisk, hashPassword } from './cidata.ts';
import { createCloudOverlay, createUefiVars } from './cloud-disk.ts';
import { createCowDisk } from './cow-disk.ts';
import { createDataDisks, dataDiskConfigs, type DataDiskSpec } from './data-disks.ts';
import { recoverNetwork, setupNetwork, teardownNetwork, type NetSpec } from './network.ts';
import { kernelCmdline, launchSpec, vmDisks } from './spec.ts';
import { isLive, liveState } from './state.ts';

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
  const storage = vmDisks(req.image, paths, data, req.extra?.windows === true);
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
  };
}

/**
 * Creates a VM: reserves the name, makes its disks (and NICs), records it as `created`.
 * NOTE: the VM's lock is held from before its record exists until it is `created` or rolled
 * back, so cocoon-gc can tell a `creating` record whose creator died (lock free) from one
 * being made (lock held). Every command that writes a `creating` record must do the same.
 */
export async function createVm(layout: Layout, req: CreateRequest): Promise<VmRecord> {
  const record = planVm(layout, req);
  const { id } = record;
  const name = record.config.name;
  const paths = vmPaths(layout, id);
  const lockFile = vmLockFile(layout, id);
  const lock = await acquireLock(lockFile);
  let inserted = false;
  try {
    await insertRecord(layout, record);
    inserted = true;
    await claimVmDirs(layout, id);
    if (record.nics > 0) {
      const net = await setupNetwork(layout, record);
      record.network_configs = net.network_configs;
      if (net.network) record.config.network = net.network;
      record.boot.cmdline = kernelCmdline(req.image, name, record.storage_configs, net.network_configs, req.dns);
    }
    const storage = req.image.kind === 'cloud' ? await prepareCloudDisks(req, paths, record) : await createCowDisk(paths.cowDisk, req.storage).then(() => req.storage);
    await createDataDisks(req.dataDisks ?? [], record.storage_configs.filter((d) => d.role === 'data'));
    await driverFor(record.hypervisor).create(launchSpec(layout, record));
    return await setState(layout, id, { state: 'created', config: { ...record.config, storage }, network_configs: record.network_configs, boot: record.boot });
  } catch (err) {
    if (inserted) {
      // NOTE: cocoon-net undid its own work if it failed; this covers a failure after it succeeded.
      if (record.network_configs) await teardownNetwork(layout, record).catch(() => undefined);
      await rm(paths.runDir, { recursive: true, force: true });
      await rm(paths.logDir, { recursive: true, force: true });
      await vmIndex(layout).update((items) => void items.delete(id));
    }
    await rm(lockFile, { force: true });
    throw err;
  } finally {
    lock.release();
  }
}

/** Adds `record` to the index unless its name is taken (regardless of case); allocates its vsock CID. */
async function insertRecord(layout: Layout, record: VmRecord): Promise<void> {
  const name = record.config.name;
  // Cloud Hypervisor and Firecracker always have a (hybrid) vsock device; QEMU only with vhost-vsock.
  const vsock = record.hypervisor !== 'qemu' || hostHasVhostVsock();
  await vmIndex(layout).update((items) => {
    const folded = name.toLowerCase();
    for (const vm of items.values()) {
      // NOTE: case-insensitive, because the name becomes the guest hostname (DNS ignores case).
      if (vm.config.name.toLowerCase() === folded) throw new ConflictError(`VM name "${name}" already exists (${vm.id.slice(0, 12)})`);
    }
    // NOTE: the CID is allocated under the index lock, so two creates never share one.
    if (vsock) record.vsock_cid = nextGuestCid([...items.values()].map((vm) => vm.vsock_cid ?? null));
    items.set(record.id, record);
  });
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
    const vm = await vmIndex(layout).resolve(found.id);
    if (vm.state === 'creating') throw new InvalidStateError(`VM "${vm.config.name}" is still being created`);
    if (isLive(liveState(layout, vm))) throw new InvalidStateError(`VM "${vm.config.name}" is already running`);
    const driver = driverFor(vm.hypervisor);
    await stopUntracked(layout, vm);
    markVmLogs(layout, vm.id, 'start');
    try {
      // A netns (or host TAP) that vanished, e.g. with a host reboot, is made again: same MACs and IPs.
      const recovered = await recoverNetwork(layout, vm);
      if (recovered) Object.assign(vm, await setState(layout, vm.id, { network_configs: recovered }));
      const spec = launchSpec(layout, vm);
      const { pid } = await driver.start(spec, timeoutMs);
      return await setState(layout, vm.id, { state: 'running', pid, started_at: new Date().toISOString(), error: undefined, first_booted: true, tuning: spec.tuning });
    } catch (err) {
      await setState(layout, vm.id, { state: 'error', pid: 0, error: (err as Error).message });
      throw err;
    }
  });
}

/** Stops a VM: ACPI power button, then SIGTERM, then SIGKILL (PID verified each time). */
export async function stopVm(layout: Layout, ref: string, opts: { timeoutMs: number; force: boolean }): Promise<{ vm: VmRecord; outcome: string }> {
  const found = await vmIndex(layout).resolve(ref);
  return withLock(vmLockFile(layout, found.id), async () => {
    const vm = await vmIndex(layout).resolve(found.id);
    const paths = vmPaths(layout, vm.id);
    const driver = driverFor(vm.hypervisor);
    const outcome = await driver.stop(paths, vm.pid, opts);
    await stopUntracked(layout, vm);
    await driver.delete(paths);
    if (outcome !== 'not-running') markVmLogs(layout, vm.id, 'stop');
    const next: Partial<VmRecord> = vm.state === 'running' || vm.state === 'error' ? { state: 'stopped', pid: 0, stopped_at: new Date().toISOString() } : {};
    return { vm: await setState(layout, vm.id, next), outcome };
  });
}

/** Removes a VM's record and files; a running VM needs `force` (it is killed first). */
export async function removeVm(layout: Layout, ref: string, force: boolean): Promise<VmRecord> {
  const found = await vmIndex(layout).resolve(ref);
  const lockFile = vmLockFile(layout, found.id);
  const removed = await withLock(lockFile, async () => {
    const vm = await vmIndex(layout).resolve(found.id);
    const paths = vmPaths(layout, vm.id);
    const driver = driverFor(vm.hypervisor);
    if (isLive(liveState(layout, vm))) {
      if (!force) throw new InvalidStateError(`VM "${vm.config.name}" is running; stop it first or use --force`);
      await driver.stop(paths, vm.pid, { timeoutMs: 0, force: true });
    }
    await stopUntracked(layout, vm);
    await driver.delete(paths);
    // NOTE: the record goes before the files it names (the reverse of create), so a kill from
    // here on leaves files and a network without a record, which `cocoon gc` collects, and
    // never a record whose disks are gone.
    await vmIndex(layout).update((items) => void items.delete(vm.id));
    const leftovers = await teardownNetwork(layout, vm);
    // The VM goes anyway: what its network left is in the networks index, for `cocoon net del` or gc.
    for (const what of leftovers) log().warn(what);
    await rm(paths.runDir, { recursive: true, force: true });
    await rm(paths.logDir, { recursive: true, force: true });
    return vm;
  });
  await rm(lockFile, { force: true });
  return removed;
}

/**
 * Ends a hypervisor of `vm` that its record does not know: a `vm start` killed between
 * launching it and recording its PID leaves one running (the hypervisor wrote its own PID
 * file; the PID is verified to be this VM's before any signal). Caller holds the VM's lock.
 */
async function stopUntracked(layout: Layout, vm: VmRecord): Promise<void> {
  const paths = vmPaths(layout, vm.id);
  let pid: number;
  try {
    pid = Number.parseInt(await readFile(paths.pidFile, 'utf8'), 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === vm.pid || !pidBelongsTo(pid, paths.apiSocket)) return;
  log().warn({ vm: vm.id, pid }, 'ending a hypervisor the VM record did not know (a start was interrupted)');
  await driverFor(vm.hypervisor).stop(paths, pid, { timeoutMs: 0, force: true });
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

async function setState(layout: Layout, id: string, patch: Partial<VmRecord>): Promise<VmRecord> {
  return vmIndex(layout).update((items) => {
    const vm = items.get(id);
    if (!vm) throw new InvalidStateError(`VM ${id.slice(0, 12)} disappeared from the index`);
    const next = { ...vm, ...patch, updated_at: new Date().toISOString() };
    items.set(id, next);
    return next;
  });
}
