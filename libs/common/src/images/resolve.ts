/** `resolveImage`: an image reference → everything `vm create` needs to attach and boot it. */
import { join } from 'node:path';
import { resolveRef } from '../refs.ts';
import type { Layout } from '../layout.ts';
import { ImageResolveSchema, type ImageRecord, type ImageResolve } from '../schemas/image.ts';
import { bootDir, imageIndex, layerDiskPath } from './store.ts';

/**
 * Finds an image by ID, exact name, `<name>:latest` for a bare name, or unique ID prefix.
 * Throws NotFoundError / UsageError (ambiguous prefix) like every other ref.
 */
export async function findImage(layout: Layout, ref: string): Promise<ImageRecord> {
  const records = await imageIndex(layout).list();
  const exact = records.find((r) => r.id === ref) ?? records.find((r) => r.name === ref);
  if (exact) return exact;
  const bare = !ref.includes(':') && !ref.includes('@');
  const latest = bare ? records.find((r) => r.name === `${ref}:latest`) : undefined;
  return latest ?? resolveRef(records, ref, 'image');
}

/** What `cocoon-image resolve REF` prints for a record. */
export function toResolve(layout: Layout, record: ImageRecord): ImageResolve {
  const boot = record.boot;
  const dir = boot ? bootDir(layout, boot.layer) : null;
  return ImageResolveSchema.parse({
    id: record.id,
    name: record.name,
    digest: record.digest,
    kind: record.kind,
    disks: record.layers.map((layer, j) => ({
      path: layerDiskPath(layout, layer.digest),
      serial: `cocoon-layer${j}`,
      read_only: true,
      format: 'raw',
    })),
    kernel: dir && boot ? join(dir, boot.kernel) : null,
    initrd: dir && boot?.initrd ? join(dir, boot.initrd) : null,
    firmware: null,
    cmdline: record.kind === 'oci' ? ['boot=cocoon-overlay'] : [],
  });
}

/** Resolves `ref` in the store and returns its `ImageResolve`. */
export async function resolveImage(layout: Layout, ref: string): Promise<ImageResolve> {
  return toResolve(layout, await findImage(layout, ref));
}
