/**
 * Image records (`<root>/images/index.json`). Records hold digests, not paths: the
 * store's files derive from the layout (`images/blobs/sha256/<hex>.erofs`,
 * `images/boot/<hex>/{vmlinuz,initrd.img}`), so a moved root keeps working.
 */
import { z } from 'zod';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';

/**
 * How a layer's EROFS disk is laid out (absent: `plain`). `plain`: uncompressed with tail
 * data inlined (mkfs.erofs's default). `dax`: uncompressed, nothing inlined, padded to
 * 2 MiB, so a guest can map it from a host file with DAX (virtio-pmem): one copy of its
 * pages in the host's page cache for every VM. `lz4hc`: compressed, read by the guest
 * kernel through a block device (less disk, a page cache per guest). Chosen per layer by
 * the image (`io.cocoon.erofs` annotation on the layer descriptor).
 */
export const ErofsLayoutSchema = z.enum(['plain', 'dax', 'lz4hc']);
export type ErofsLayout = z.infer<typeof ErofsLayoutSchema>;

/** One OCI layer, converted to a read-only EROFS disk. Bottom layer first. */
export const ImageLayerSchema = z.object({
  /** Digest of the layer blob as the manifest names it (compressed). */
  digest: DigestSchema,
  /** Digest of the uncompressed tar (the config's diff_id), when known. */
  diff_id: DigestSchema.nullable(),
  media_type: z.string(),
  /** Size of the EROFS disk in bytes. */
  size: z.number().int().nonnegative(),
  erofs: ErofsLayoutSchema.optional(),
});
export type ImageLayer = z.infer<typeof ImageLayerSchema>;

/** Kernel and initramfs found in a layer's `boot/`, copied into the store. */
export const ImageBootSchema = z.object({
  /** Digest of the layer they came from (names the folder under `images/boot`). */
  layer: DigestSchema,
  kernel: z.string(),
  initrd: z.string().nullable(),
});
export type ImageBoot = z.infer<typeof ImageBootSchema>;

export const ImageRecordSchema = z.object({
  id: IdSchema,
  /** The reference it was imported or pulled as (`default`, `ghcr.io/x/y:tag`). */
  name: z.string().min(1),
  kind: z.enum(['oci', 'cloud']),
  /** Manifest digest (OCI) or content digest (cloud image). */
  digest: DigestSchema,
  /** Where it came from: a file path, `-` (stdin), a registry reference or a URL. */
  source: z.string(),
  platform: z.string().nullable(),
  layers: z.array(ImageLayerSchema),
  boot: ImageBootSchema.nullable(),
  /** The image config's env/entrypoint/cmd, kept for reference. */
  config: z
    .object({ env: z.array(z.string()), entrypoint: z.array(z.string()).nullable(), cmd: z.array(z.string()).nullable() })
    .nullable(),
  /** Total bytes of the store files this image uses. */
  size: z.number().int().nonnegative(),
  /**
   * The image's guest mounts layers from virtio-pmem devices (`pmem:<uuid>` entries of
   * `cocoon.layers`), announced by the `io.cocoon.guest.pmem` manifest annotation. Without
   * it, every layer is a block device.
   */
  guest_pmem: z.boolean().optional(),
  created_at: TimestampSchema,
});
export type ImageRecord = z.infer<typeof ImageRecordSchema>;

/** One disk of a resolved image, as `vm create` attaches it. */
export const ResolvedDiskSchema = z.object({
  path: z.string(),
  serial: z.string(),
  read_only: z.boolean(),
  format: z.enum(['raw', 'qcow2']),
  /** A layer laid out for DAX (`erofs: dax`): it may be mapped through virtio-pmem. */
  dax: z.boolean().optional(),
  /** The layer's EROFS filesystem UUID (how the guest finds a pmem device's layer). */
  uuid: z.string().optional(),
  /** Attach through virtio-pmem and mount with DAX (decided at `vm create`). */
  pmem: z.boolean().optional(),
});
export type ResolvedDisk = z.infer<typeof ResolvedDiskSchema>;

/** `cocoon-image resolve REF --format json`: everything `vm create` needs from an image. */
export const ImageResolveSchema = z.object({
  id: IdSchema,
  name: z.string(),
  digest: DigestSchema,
  kind: z.enum(['oci', 'cloud']),
  disks: z.array(ResolvedDiskSchema),
  kernel: z.string().nullable(),
  initrd: z.string().nullable(),
  firmware: z.string().nullable(),
  /** Kernel command line fragments that come from the image (e.g. `boot=cocoon-overlay`). */
  cmdline: z.array(z.string()),
  /** The image's guest mounts `pmem:<uuid>` layers (see ImageRecord). */
  guest_pmem: z.boolean().optional(),
});
export type ImageResolve = z.infer<typeof ImageResolveSchema>;
