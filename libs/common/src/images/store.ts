/**
 * The image store every tool shares: the image index and the paths of its content-addressed
 * files. Records hold digests only; these helpers turn them into paths under the layout.
 *
 * Files a failed or killed import may leave (all collectable by `cocoon-gc`):
 * - `<tmp>/import-<pid>-<rand>/`: staging; dead once its pid is gone.
 * - `images/blobs/sha256/<hex>[.dax|.lz4hc].erofs`, `<hex>.qcow2` and `images/boot/<hex>/` that no image record
 *   references: complete, content-addressed, safe to delete under the images lock.
 * - `images/blobs/sha256/.<hex>.erofs.tmp-*`: a half-written disk (never referenced).
 */
import { join } from 'node:path';
import { JsonIndex } from '../store/json-index.ts';
import { digestHex } from '../schemas/common.ts';
import { ErofsLayoutSchema, ImageRecordSchema, type ErofsLayout, type ImageLayer, type ImageRecord } from '../schemas/image.ts';
import type { Layout } from '../layout.ts';
import { UsageError } from '../errors.ts';

/** The image index (`<root>/images/index.json`) guarded by the images lock. */
export function imageIndex(layout: Layout): JsonIndex<ImageRecord> {
  return new JsonIndex<ImageRecord>({ file: layout.images.index, lockFile: layout.images.lock, schema: ImageRecordSchema, kind: 'image' });
}

/**
 * The read-only EROFS disk of a layer: `images/blobs/sha256/<hex>.erofs`, or
 * `<hex>.<layout>.erofs` for a layer laid out otherwise (`dax`, `lz4hc`): one layer's content
 * may be stored in several layouts when images ask for different ones.
 */
export function layerDiskPath(layout: Layout, digest: string, erofs: ErofsLayout = 'plain'): string {
  return join(layout.images.blobs, `${digestHex(digest)}${erofs === 'plain' ? '' : `.${erofs}`}.erofs`);
}

/** Every file a layer's content may be stored as (each EROFS layout, a cloud qcow2). */
export function layerFiles(layout: Layout, digest: string): string[] {
  return [...ErofsLayoutSchema.options.map((e) => layerDiskPath(layout, digest, e)), cloudDiskPath(layout, digest)];
}

/**
 * The EROFS filesystem UUID of a layer's disk, derived from the layer digest (the same
 * layer always gets the same UUID): 8-4-4-4-12 hex, as `mkfs.erofs -U` takes it.
 */
export function layerUuid(digest: string): string {
  const hex = digestHex(digest);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Media type of a cloud image's layer: the whole disk as one read-only qcow2 v3 file. */
export const CLOUD_DISK_MEDIA_TYPE = 'application/vnd.cocoon.disk.qcow2';

/** The stored disk of a cloud image: `images/blobs/sha256/<hex>.qcow2`. */
export function cloudDiskPath(layout: Layout, digest: string): string {
  return join(layout.images.blobs, `${digestHex(digest)}.qcow2`);
}

/** The store file of a record's layer: a cloud image's qcow2, else an EROFS disk. */
export function storeDiskPath(layout: Layout, layer: Pick<ImageLayer, 'digest' | 'media_type' | 'erofs'>): string {
  return layer.media_type === CLOUD_DISK_MEDIA_TYPE ? cloudDiskPath(layout, layer.digest) : layerDiskPath(layout, layer.digest, layer.erofs);
}

/** The folder holding the kernel/initrd found in a layer: `images/boot/<hex>/`. */
export function bootDir(layout: Layout, layerDigest: string): string {
  return join(layout.images.boot, digestHex(layerDigest));
}

/** Image names: `default`, `ubuntu:24.04`, `ghcr.io/a/b:tag`, `repo@sha256:<hex>`. */
export const IMAGE_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@+]{0,254}$/;

/** Throws a UsageError when `name` is not a valid image name. */
export function validateImageName(name: string): void {
  const bad = !IMAGE_NAME_RE.test(name) || name.includes('..') || name.includes('//') || name.endsWith('/');
  if (bad) {
    throw new UsageError(
      `image name "${printable(name)}" is invalid: use letters, digits and . _ - / : @ + (e.g. default, ubuntu:24.04, ghcr.io/a/b:tag), no spaces, no ".."`,
    );
  }
}

/** Every layer digest an image record uses. */
export function layerDigests(record: ImageRecord): string[] {
  return record.layers.map((l) => l.digest);
}

/** Escapes control characters so a bad name prints on one line. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we escape
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
