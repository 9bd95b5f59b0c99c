/** `resolveImage`: an image reference → everything `vm create` needs to attach and boot it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveRef } from '../refs.ts';
import type { Layout } from '../layout.ts';
import { ImageResolveSchema, type ImageRecord, type ImageResolve } from '../schemas/image.ts';
import { bootDir, imageIndex, layerUuid, storeDiskPath } from './store.ts';

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

/** QEMU's UEFI firmware from Debian's `ovmf`: cloud images boot through their own bootloader. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd';

/**
 * What `cocoon-image resolve REF` prints for a record. An OCI image: its EROFS layers (raw,
 * `cocoon-layer<j>`, bottom first) and kernel/initrd. A cloud image: one qcow2 (`cocoon-root`,
 * the backing file of the VM's overlay), no kernel, booted by OVMF when it is installed.
 */
export function toResolve(layout: Layout, record: ImageRecord): ImageResolve {
  const cloud = record.kind === 'cloud';
  const boot = record.boot;
  const dir = boot ? bootDir(layout, boot.layer) : null;
  return ImageResolveSchema.parse({
    id: record.id,
    name: record.name,
    digest: record.digest,
    kind: record.kind,
    disks: record.layers.map((layer, j) => ({
      path: storeDiskPath(layout, layer),
      serial: cloud ? 'cocoon-root' : `cocoon-layer${j}`,
      read_only: true,
      format: cloud ? 'qcow2' : 'raw',
      ...(layer.erofs === 'dax' ? { dax: true, uuid: layerUuid(layer.digest) } : {}),
    })),
    kernel: dir && boot ? join(dir, boot.kernel) : null,
    initrd: dir && boot?.initrd ? join(dir, boot.initrd) : null,
    firmware: cloud && existsSync(OVMF_CODE) ? OVMF_CODE : null,
    cmdline: cloud ? [] : ['boot=cocoon-overlay'],
    ...(record.guest_pmem ? { guest_pmem: true } : {}),
  });
}

/** Resolves `ref` in the store and returns its `ImageResolve`. */
export async function resolveImage(layout: Layout, ref: string): Promise<ImageResolve> {
  return toResolve(layout, await findImage(layout, ref));
}
