/**
 * Snapshot records (`<root>/snapshots/index.json`), in the Go cocoon's flat public shape
 * (`types.Snapshot`: its `Config` keys inline, then id, name, description …): the record on
 * disk is what `snapshot inspect` and `snapshot list -o json` print, as for VMs.
 */
import { z } from 'zod';
import { HypervisorKindSchema } from './config.ts';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';
import { ImageTypeSchema, NetworkConfigSchema, StorageConfigSchema, VmConfigSchema, VmTuningSchema } from './vm.ts';

/**
 * One file of a snapshot directory. `digest` covers what an export carries: the SHA-256 of
 * the file's data segments in order (holes skipped), each preceded by the line
 * `<offset> <length>\n`, so a 10 GiB sparse disk is checked without reading its holes.
 */
export const SnapshotFileSchema = z.object({
  /** A plain file name inside the snapshot directory (no `/`). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a snapshot file name is a plain name'),
  /** Apparent size in bytes. */
  size: z.number().int().nonnegative(),
  digest: DigestSchema,
});
export type SnapshotFile = z.infer<typeof SnapshotFileSchema>;

/**
 * One disk of the snapshotted machine, in attach order. A writable disk was copied into the
 * snapshot (`file`); a read-only image layer stays in the image store (`blob`, its hex digest).
 */
export const SnapshotDiskSchema = StorageConfigSchema.omit({ path: true }).extend({
  file: z.string().optional(),
  blob: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type SnapshotDisk = z.infer<typeof SnapshotDiskSchema>;

/** What a clone or restore needs to rebuild the exact machine the state was saved from. */
export const SnapshotMachineSchema = z.object({
  accel: z.enum(['kvm', 'tcg']),
  /** The source VM's kernel command line (a clone recomputes it for its own name). */
  cmdline: z.string(),
  /** UEFI boots: the variable store was copied as this file. */
  uefi_vars: z.string().optional(),
  disks: z.array(SnapshotDiskSchema),
  /** The source's NICs (a restore keeps them; a clone gets fresh ones, as many). */
  nics: z.array(NetworkConfigSchema),
  /** The device and memory state file the hypervisor wrote. */
  state_file: z.string(),
  vsock: z.boolean(),
  /** The host tuning the source was launched with (its devices: balloon, watchdog, queue sizes). */
  tuning: VmTuningSchema.optional(),
});
export type SnapshotMachine = z.infer<typeof SnapshotMachineSchema>;

export const SnapshotRecordSchema = z.looseObject({
  // The Go cocoon's `Config`, inline.
  cpu: z.number().int().positive(),
  memory: z.number().int().positive(),
  storage: z.number().int().positive(),
  queue_size: VmConfigSchema.shape.queue_size,
  disk_queue_size: VmConfigSchema.shape.disk_queue_size,
  image: z.string().min(1),
  image_digest: DigestSchema,
  image_type: ImageTypeSchema,
  network: VmConfigSchema.shape.network,
  no_direct_io: VmConfigSchema.shape.no_direct_io,
  windows: VmConfigSchema.shape.windows,
  // The Go cocoon's `SnapshotConfig` and `Snapshot`.
  id: IdSchema,
  name: z.string().min(1),
  description: z.string().optional(),
  /** Hex digests of the image blobs the snapshot needs (GC pins them), as a set. */
  image_blob_ids: z.record(z.string().regex(/^[0-9a-f]{64}$/), z.object({})).optional(),
  hypervisor: HypervisorKindSchema,
  nics: z.number().int().nonnegative(),
  created_at: TimestampSchema,

  // cocoon's additions.
  /** The image record the snapshotted VM was created from (absent when it is not on this host). */
  image_id: IdSchema.optional(),
  /** The source's network choices a clone inherits (published ports are not: they belong to one VM). */
  bridge: VmConfigSchema.shape.bridge,
  egress: VmConfigSchema.shape.egress,
  dns: VmConfigSchema.shape.dns,
  /** The VM it was taken of (absent for an imported snapshot). */
  vm_id: IdSchema.optional(),
  /** True while `snapshot save`/`import` is still writing it (GC finishes or removes stale ones). */
  pending: z.boolean().optional(),
  /** PID of the command writing a pending snapshot (a dead writer means the snapshot is stale). */
  pending_pid: z.number().int().positive().optional(),
  /** Start time of `pending_pid` (clock ticks after boot, /proc/PID/stat): a reused PID is not the writer. */
  pending_start_time: z.number().int().nonnegative().optional(),
  /** The source VM was paused by the pending save (recovery resumes it if the writer died). */
  paused_by_save: z.boolean().optional(),
  /** Every file of the snapshot directory, sorted by name. */
  files: z.array(SnapshotFileSchema).optional(),
  /** The saved machine's layout (absent for a snapshot imported from the Go cocoon). */
  machine: SnapshotMachineSchema.optional(),
});
export type SnapshotRecord = z.infer<typeof SnapshotRecordSchema>;

/**
 * What other tools read of a snapshot record today (`image rm` refuses to delete an image a
 * snapshot needs). Unknown keys pass through, so this stays valid as the record grows.
 */
export const SnapshotRefSchema = z.looseObject({
  id: IdSchema,
  name: z.string().min(1),
  /** The image the snapshotted VM was created from (absent when it is not on this host). */
  image_id: IdSchema.optional(),
  image_digest: DigestSchema.optional(),
});
export type SnapshotRef = z.infer<typeof SnapshotRefSchema>;

/** `snapshot.json`, the first entry of an export: cocoon writes version 2 (its record, files and digests included). */
export const SnapshotArchiveV2Schema = z.object({ version: z.literal(2), config: SnapshotRecordSchema });

/**
 * The Go cocoon's version 1 manifest: its snapshot object without `created_at`, no file
 * digests. Only what an import needs is required; the rest passes through.
 */
export const SnapshotArchiveV1Schema = z.object({
  version: z.literal(1),
  config: z.looseObject({
    id: z.string().optional(),
    name: z.string().optional(),
    description: z.string().optional(),
    cpu: z.number().int().positive(),
    memory: z.number().int().positive(),
    storage: z.number().int().positive(),
    image: z.string().min(1),
    image_digest: DigestSchema,
    image_type: ImageTypeSchema.optional(),
    hypervisor: HypervisorKindSchema,
    nics: z.number().int().nonnegative().optional(),
    image_blob_ids: z.record(z.string(), z.object({})).optional(),
  }),
});

export const SnapshotArchiveManifestSchema = z.discriminatedUnion('version', [SnapshotArchiveV2Schema, SnapshotArchiveV1Schema]);
export type SnapshotArchiveManifest = z.infer<typeof SnapshotArchiveManifestSchema>;
