/**
 * VM records (`<root>/vms/index.json`), in the Go cocoon's public shape (`types.VM`).
 *
 * The record on disk IS the JSON that `vm inspect`, `vm list -o json`, `vm run/create/clone
 * -o json` and `vm status` events print (plus the live state and `runtime` paths at print
 * time): one schema, no mapping layer, so the Go cocoon's clients (vk-cocoon, scripts) read
 * our output unchanged. Keys the Go cocoon does not have are cocoon's own additions (clients
 * ignore unknown keys); keys it marks `omitempty` are absent when empty.
 */
import { z } from 'zod';
import { HypervisorKindSchema } from './config.ts';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';
import { EgressPolicySchema, PortMappingSchema } from './net-policy.ts';

/** `paused` is cocoon's addition (snapshots pause a VM); the rest are the Go cocoon's states. */
export const VM_STATES = ['creating', 'created', 'running', 'paused', 'stopped', 'error'] as const;
export const VmStateSchema = z.enum(VM_STATES);
export type VmState = z.infer<typeof VmStateSchema>;

/** The Go cocoon's image backends: OCI VM images and cloud disk images. */
export const ImageTypeSchema = z.enum(['oci', 'cloudimg']);
export type ImageType = z.infer<typeof ImageTypeSchema>;

/** `config`: what was asked for at create time (the Go cocoon's `VMConfig`). */
export const VmConfigSchema = z.object({
  name: z.string().min(1),
  cpu: z.number().int().positive(),
  /** Bytes. */
  memory: z.number().int().positive(),
  /** Bytes of the writable (COW) disk. */
  storage: z.number().int().positive(),
  /** The image reference as given (`default`, `ghcr.io/…:tag`, a URL). */
  image: z.string().min(1),
  image_digest: DigestSchema,
  image_type: ImageTypeSchema,
  /** CNI conflist name; absent = the default conflist. */
  network: z.string().min(1).optional(),
  /** virtio-net ring depth per queue; absent = driver default. */
  queue_size: z.number().int().positive().optional(),
  /** virtio-blk ring depth per device; absent = driver default. */
  disk_queue_size: z.number().int().positive().optional(),
  /** Writable disks use the page cache instead of O_DIRECT. */
  no_direct_io: z.boolean().optional(),
  /** Windows guest: UEFI, Hyper-V enlightenments, no cidata. */
  windows: z.boolean().optional(),
  // cocoon's additions, kept with the config so clones and restores get the same network.
  /** Bridge mode: the host bridge the NICs' TAPs are on (`--bridge`). */
  bridge: z.string().min(1).optional(),
  /** Published ports (`-p`), handed to CNI as the `portMappings` capability (first NIC). */
  publish: z.array(PortMappingSchema).optional(),
  /** Egress policy (`--egress`, `--egress-rule`), enforced in the TC path of every NIC. */
  egress: EgressPolicySchema.optional(),
  /** DNS servers given to the guest (`--dns` at create time). */
  dns: z.array(z.string()).optional(),
  /** Cloud images: the user cloud-init sets the password of (`--user`; the password itself is never stored). */
  user: z.string().optional(),
});
export type VmConfig = z.infer<typeof VmConfigSchema>;

/** Guest-visible address of a NIC; absent on a DHCP NIC. */
export const NicAddressSchema = z.object({
  ip: z.string().optional(),
  gateway: z.string().optional(),
  prefix: z.number().int().min(0).max(128).optional(),
});

/** One NIC (`network_configs[]`, the Go cocoon's `NetworkConfig`). */
export const NetworkConfigSchema = z.looseObject({
  tap: z.string().min(1),
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'a MAC is six lowercase hex pairs'),
  num_queues: z.number().int().positive(),
  queue_size: z.number().int().nonnegative(),
  /** Absent means `cni` (the Go cocoon's rule for old records). */
  backend: z.enum(['cni', 'bridge']).optional(),
  bridge_dev: z.string().optional(),
  netns_path: z.string().optional(),
  network: NicAddressSchema.optional(),
});
export type NetworkConfig = z.infer<typeof NetworkConfigSchema>;

export const STORAGE_ROLES = ['layer', 'cow', 'cidata', 'data'] as const;

/** One disk (`storage_configs[]`, the Go cocoon's `StorageConfig`), in attach order. */
export const StorageConfigSchema = z.object({
  path: z.string().min(1),
  ro: z.boolean(),
  serial: z.string().min(1),
  role: z.enum(STORAGE_ROLES),
  /** Data disks only. */
  mount_point: z.string().optional(),
  fstype: z.enum(['ext4', 'none']).optional(),
  direct_io: z.boolean().optional(),
  /** cocoon: the image format the hypervisor opens (the Go cocoon infers it from the file name). */
  format: z.enum(['raw', 'qcow2']),
  /** cocoon: a read-only layer mapped into the guest through virtio-pmem (DAX), not a block device. */
  pmem: z.boolean().optional(),
});
export type StorageConfig = z.infer<typeof StorageConfigSchema>;

/** Data-disk names (the Go cocoon's rule: 20 characters, the length of a virtio serial). */
export const DATA_DISK_NAME = /^[a-z][a-z0-9_-]{0,19}$/;

/**
 * Room a launch reserved to grow the VM while it runs (QEMU: `-smp …,maxcpus`, `-m …,slots,maxmem`,
 * spare PCIe root ports), and what was added live since: a VM launched from a state saved with
 * these devices must have them again before the state loads, so a restore puts them on the
 * command line. The launch's own vCPUs and memory are the VM's minus what was added.
 */
export const VmHotplugSchema = z.object({
  /** The most vCPUs the VM can have. */
  max_cpu: z.number().int().positive(),
  /** The most memory (bytes) the VM can have, RAM and added DIMMs together. */
  max_memory: z.number().int().positive(),
  /** DIMM slots (each live memory growth takes one). */
  slots: z.number().int().nonnegative(),
  /** Spare PCIe root ports (each NIC added live takes one). */
  ports: z.number().int().nonnegative(),
  /** vCPUs added live, each as the hypervisor's topology properties (`socket-id`, `core-id` …). */
  cpus: z.array(z.record(z.string(), z.number().int().nonnegative())),
  /** Sizes (bytes) of the DIMMs added live, in order. */
  dimms: z.array(z.number().int().positive()),
  /** NICs added live: the last ones of `network_configs`, each on its own root port. */
  nics: z.number().int().nonnegative(),
});
export type VmHotplug = z.infer<typeof VmHotplugSchema>;

/**
 * The host tuning of the VM's last launch (cocoon's addition; decided at start from the
 * host and `config`, so `vm inspect` shows what the hypervisor really got).
 */
export const VmTuningSchema = z.object({
  /** Guest memory on hugepages (the host had `vm.nr_hugepages` > 0). */
  hugepages: z.boolean(),
  /** Initial balloon size in bytes (0 = no balloon device). */
  balloon: z.number().int().nonnegative(),
  watchdog: z.boolean(),
  disk_queue_size: z.number().int().positive(),
  queue_size: z.number().int().positive(),
  /** Writable disks opened with O_DIRECT (a data disk's own `direct_io` wins). */
  direct_io: z.boolean(),
  /** Hyper-V enlightenments (Windows guests). */
  hyperv: z.boolean(),
  /** Room to grow live, and what was added (absent: a launch without headroom, or a driver without live growth). */
  hotplug: VmHotplugSchema.optional(),
});
export type VmTuning = z.infer<typeof VmTuningSchema>;

/** How the guest boots (cocoon's addition; the Go cocoon keeps it in the hypervisor's own files). */
export const VmBootSchema = z.object({
  kernel: z.string().nullable(),
  initrd: z.string().nullable(),
  /** UEFI firmware code; its per-VM variable store is in the run dir. */
  firmware: z.string().nullable(),
  cmdline: z.string(),
});

/** One process, for good: its PID and start time (clock ticks after boot). */
export const ProcessIdentitySchema = z.object({
  pid: z.number().int().positive(),
  start_time: z.number().int().nonnegative(),
});

export const VmRecordSchema = z.object({
  id: IdSchema,
  hypervisor: HypervisorKindSchema,
  state: VmStateSchema,
  config: VmConfigSchema,
  /** PID of the hypervisor while running, else 0 (as the Go cocoon). */
  pid: z.number().int().nonnegative(),
  /** The hypervisor's control socket (QMP for QEMU, the REST API for CH and FC). */
  socket_path: z.string().optional(),
  network_configs: z.array(NetworkConfigSchema).optional(),
  storage_configs: z.array(StorageConfigSchema),
  /** True once the VM has started (a cloud image's cidata disk is attached only before that). */
  first_booted: z.boolean(),
  /** Snapshots taken of this VM, as a set. */
  snapshot_ids: z.record(IdSchema, z.object({})).optional(),
  created_at: TimestampSchema,
  updated_at: TimestampSchema,
  started_at: TimestampSchema.optional(),
  stopped_at: TimestampSchema.optional(),

  // cocoon's additions.
  /** What runs the vCPUs: KVM, or TCG software emulation. */
  accel: z.enum(['kvm', 'tcg']),
  /** The image record the VM was created from. */
  image_id: IdSchema,
  /** Number of NICs asked for (`network_configs` holds what was wired). */
  nics: z.number().int().nonnegative(),
  boot: VmBootSchema,
  /** Why the VM is in `error`. */
  error: z.string().optional(),
  /** Guest CID of a vhost-vsock device (QEMU on hosts with /dev/vhost-vsock). */
  vsock_cid: z.number().int().min(3).optional(),
  /**
   * Start time of the hypervisor `pid` (clock ticks after boot, /proc/PID/stat field 22): with
   * the PID and its command line it names the process even after the kernel reuses the PID.
   */
  pid_start_time: z.number().int().nonnegative().optional(),
  /** While `creating`: the process creating the VM. A record whose creator is gone was interrupted. */
  creator: ProcessIdentitySchema.optional(),
  /** The tuning of the last start. */
  tuning: VmTuningSchema.optional(),
  /** One line on a choice made for this VM that costs it something (e.g. why its layers are not shared through DAX). */
  notice: z.string().optional(),
});
export type VmRecord = z.infer<typeof VmRecordSchema>;

/** `vm status --event --format json`: one line per change. */
export const VmEventSchema = z.object({
  event: z.enum(['ADDED', 'MODIFIED', 'DELETED']),
  vm: VmRecordSchema,
});
export type VmEvent = z.infer<typeof VmEventSchema>;

/** The paths of a VM's runtime files (`vm inspect` adds them as `runtime`). */
export const VmRuntimeSchema = z.looseObject({
  runDir: z.string(),
  logDir: z.string(),
  consoleSocket: z.string(),
  consoleLog: z.string(),
  hypervisorLog: z.string(),
  console: z.object({ kind: z.enum(['unix', 'pty']), path: z.string() }),
  /** Where the VM's logs are: each log with its rotated generations (newest first), the console log's time marks, the engine log. */
  logs: z.object({ console: z.array(z.string()), hypervisor: z.array(z.string()), console_marks: z.string(), engine: z.string() }).optional(),
});

/** What `vm inspect` prints: the record with its live state, plus `runtime`. */
export const VmInspectSchema = VmRecordSchema.extend({ runtime: VmRuntimeSchema });
export type VmInspect = z.infer<typeof VmInspectSchema>;

/** The name a VM is referred to by (and resolved by). */
export function vmName(vm: Pick<VmRecord, 'config'>): string {
  return vm.config.name;
}
