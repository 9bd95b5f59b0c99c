/**
 * Snapshot records (`<root>/snapshots/index.json`), in the Go cocoon's flat public shape
 * (`types.Snapshot`: its `Config` keys inline, then id, name, description …): the record on
 * disk is what `snapshot inspect` and `snapshot list -o json` print, as for VMs.
 */
import { z } from 'zod';
import { HypervisorKindSchema } from './config.ts';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';
import { ImageTypeSchema, VmConfigSchema } from './vm.ts';

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
  /** The image record the snapshotted VM was created from. */
  image_id: IdSchema,
  /** The VM it was taken of (absent for an imported snapshot). */
  vm_id: IdSchema.optional(),
  /** True while `snapshot save`/`import` is still writing it (GC finishes or removes stale ones). */
  pending: z.boolean().optional(),
});
export type SnapshotRecord = z.infer<typeof SnapshotRecordSchema>;

/**
 * What other tools read of a snapshot record today (`image rm` refuses to delete an image a
 * snapshot needs). Unknown keys pass through, so this stays valid as the record grows.
 */
export const SnapshotRefSchema = z.looseObject({
  id: IdSchema,
  name: z.string().min(1),
  /** The image the snapshotted VM was created from. */
  image_id: IdSchema,
});
export type SnapshotRef = z.infer<typeof SnapshotRefSchema>;
