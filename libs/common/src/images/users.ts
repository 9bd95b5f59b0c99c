/**
 * Who uses an image: VMs (`<root>/vms/index.json`) created from it and snapshots
 * (`<root>/snapshots/index.json`) taken of such VMs. An index file that does not exist yet
 * means nothing of that kind references the image.
 */
import type { Layout } from '../layout.ts';
import { SnapshotRefSchema, type SnapshotRef } from '../schemas/snapshot.ts';
import type { ImageRecord } from '../schemas/image.ts';
import { JsonIndex } from '../store/json-index.ts';
import { vmIndex } from '../vms.ts';

export interface ImageUsers {
  vms: string[];
  snapshots: string[];
}

/** The snapshot index of `layout`, read for the image each snapshot references. */
export function snapshotRefs(layout: Layout): JsonIndex<SnapshotRef> {
  return new JsonIndex<SnapshotRef>({ file: layout.snapshots.index, lockFile: layout.snapshots.lock, schema: SnapshotRefSchema, kind: 'snapshot' });
}

/** Names of the VMs and snapshots that use each of `images` (by image ID; snapshots also by digest). */
export async function imageUsers(layout: Layout, images: readonly ImageRecord[]): Promise<Map<string, ImageUsers>> {
  const [vms, snapshots] = await Promise.all([vmIndex(layout).list(), snapshotRefs(layout).list()]);
  return new Map(
    images.map((img) => [
      img.id,
      { vms: vms.filter((v) => v.image_id === img.id).map((v) => v.config.name), snapshots: snapshots.filter((s) => s.image_id === img.id || s.image_digest === img.digest).map((s) => s.name) },
    ]),
  );
}

/** `VM a, b and snapshot s` — for error messages; empty when nothing uses the image. */
export function describeUsers(u: ImageUsers): string {
  const parts = [u.vms.length ? `VM ${u.vms.join(', ')}` : '', u.snapshots.length ? `snapshot ${u.snapshots.join(', ')}` : ''];
  return parts.filter(Boolean).join(' and ');
}
