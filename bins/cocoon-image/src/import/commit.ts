/** The last step of an import: the record, written under the images lock. */
import { access } from 'node:fs/promises';
import { ConflictError, InvalidDataError } from '@cocoon/common/errors';
import { imageIndex, storeDiskPath } from '@cocoon/common/images/store';
import { pruneLayers } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import { newId } from '@cocoon/common/refs';
import { ImageRecordSchema, type ImageRecord } from '@cocoon/common/schemas/image';
import type { ImagePlan } from './archive.ts';
import type { LayerResult } from './layer.ts';

/** The record of an imported image; the boot files come from the topmost layer with a kernel. */
export function buildRecord(opts: { name: string; source: string }, plan: ImagePlan, layers: LayerResult[]): ImageRecord {
  const top = [...layers].reverse().find((l) => l.boot !== null);
  if (!top?.boot) throw new InvalidDataError('image has no kernel (boot/vmlinuz*) in its layers');
  return ImageRecordSchema.parse({
    id: newId(),
    name: opts.name,
    kind: 'oci',
    digest: plan.digest,
    source: opts.source,
    platform: plan.platform,
    layers: plan.layers.map((l, i) => {
      const erofs = layers[i]?.erofs;
      return { digest: l.digest, diff_id: l.diff_id, media_type: l.media_type, size: layers[i]?.size ?? 0, ...(erofs ? { erofs } : {}) };
    }),
    boot: { layer: top.digest, kernel: top.boot.kernel, initrd: top.boot.initrd },
    config: plan.config,
    size: layers.reduce((sum, l) => sum + l.size, 0),
    ...(plan.guestPmem ? { guest_pmem: true } : {}),
    created_at: new Date().toISOString(),
  });
}

/**
 * Writes `record` under the lock. Returns false (writing nothing) when one of its disks has
 * vanished since conversion. A name that exists is a ConflictError unless `force`, which
 * replaces that record and deletes the disks only it used.
 */
export async function commitRecord(layout: Layout, record: ImageRecord, force: boolean): Promise<boolean> {
  return imageIndex(layout).update(async (items) => {
    for (const layer of record.layers) {
      if (!(await present(storeDiskPath(layout, layer)))) return false;
    }
    const old = [...items.values()].filter((r) => r.name === record.name);
    if (old.length > 0 && !force) throw new ConflictError(`image "${record.name}" already exists (use --force to replace it)`);
    for (const r of old) items.delete(r.id);
    items.set(record.id, record);
    await pruneLayers(layout, old.flatMap((r) => r.layers.map((l) => l.digest)), items.values());
    return true;
  });
}

async function present(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
