/**
 * Image records (`<root>/images/index.json`). Records hold digests, not paths: the
 * store's files derive from the layout (`images/blobs/sha256/<hex>.erofs`,
 * `images/boot/<hex>/{vmlinuz,initrd.img}`), so a moved root keeps working.
 */
import { z } from 'zod';
import { DigestSchema, IdSchema, TimestampSchema } from './common.ts';

/** One OCI layer, converted to a read-only EROFS disk. Bottom layer first. */
export const ImageLayerSchema = z.object({
  /** Digest of the layer blob as the manifest names it (compressed). */
  digest: DigestSchema,
  /** Digest of the uncompressed tar (the config's diff_id), when known. */
  diff_id: DigestSchema.nullable(),
  media_type: z.string(),
  /** Size of the EROFS disk in bytes. */
  size: z.number().int().nonnegative(),
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
  created_at: TimestampSchema,
});
export type ImageRecord = z.infer<typeof ImageRecordSchema>;

/** One disk of a resolved image, as `vm create` attaches it. */
export const ResolvedDiskSchema = z.object({
  path: z.string(),
  serial: z.string(),
  read_only: z.boolean(),
  format: z.enum(['raw', 'qcow2']),
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
});
export type ImageResolve = z.infer<typeof ImageResolveSchema>;
