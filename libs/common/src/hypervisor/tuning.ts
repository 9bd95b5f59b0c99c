/**
 * Host tuning every driver applies (the Go cocoon's defaults): hugepages when the host has
 * them configured, a balloon of 25 % with deflate-on-oom and free-page reporting on guests
 * of 256 MiB or more (never on Windows: its driver can spin during shutdown), a watchdog,
 * multi-queue virtio-blk/-net with deep rings, and direct I/O on writable disks.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.ts';
import type { StorageConfig, VmConfig, VmTuning } from '../schemas/vm.ts';

/** virtio-blk ring depth per queue unless `--disk-queue-size` says otherwise. */
export const DEFAULT_DISK_QUEUE_SIZE = 512;
/** virtio-net ring depth per queue unless `--queue-size` says otherwise. */
export const DEFAULT_NET_QUEUE_SIZE = 512;
/** Guests below this get no balloon (too little to give back). */
export const MIN_BALLOON_MEMORY = 256 * 2 ** 20;
/** The balloon starts at memory / 4. */
export const BALLOON_DIVISOR = 4;
/** Where Linux says how many persistent hugepages are configured. */
export const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';

/** Whether the host has persistent hugepages configured (`nr_hugepages` > 0). */
export function hugepagesConfigured(file = NR_HUGEPAGES): boolean {
  try {
    return Number.parseInt(readFileSync(file, 'utf8').trim(), 10) > 0;
  } catch {
    return false;
  }
}

/** The host's usable cores (what `--cpu` may not exceed). */
export function hostCores(): number {
  return availableParallelism();
}

/** Refuses more vCPUs than the host has cores (a usage error naming the flag). */
export function checkHostCpu(cpu: number, cores = hostCores()): void {
  if (cpu > cores) throw new UsageError(`--cpu: ${cpu} vCPUs is more than this host's ${cores} cores`);
}

/** Parses a virtio ring depth flag: a power of two from 2 to 1024 (QEMU's and the virtio spec's limits). */
export function parseQueueSize(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 2 || n > 1024 || (n & (n - 1)) !== 0) {
    throw new UsageError(`${flag}: "${value}" must be a power of two from 2 to 1024`);
  }
  return n;
}

/** The tuning a launch of a VM with `config` gets on this host now. */
export function tuningFor(config: Pick<VmConfig, 'memory' | 'windows' | 'no_direct_io' | 'queue_size' | 'disk_queue_size'>, hugepages = hugepagesConfigured()): VmTuning {
  const windows = config.windows === true;
  return {
    hugepages,
    balloon: config.memory >= MIN_BALLOON_MEMORY && !windows ? Math.floor(config.memory / BALLOON_DIVISOR) : 0,
    watchdog: true,
    disk_queue_size: config.disk_queue_size ?? DEFAULT_DISK_QUEUE_SIZE,
    queue_size: config.queue_size ?? DEFAULT_NET_QUEUE_SIZE,
    direct_io: config.no_direct_io !== true,
    hyperv: windows,
  };
}

/**
 * Whether a disk is opened with O_DIRECT: a data disk's own `direct_io` wins; otherwise
 * writable disks are, unless the VM has `no_direct_io` (read-only layers share the page cache).
 */
export function diskDirectIo(disk: Pick<StorageConfig, 'ro' | 'direct_io'>, vmDirectIo: boolean): boolean {
  if (disk.direct_io !== undefined) return disk.direct_io;
  return !disk.ro && vmDirectIo;
}
