/**
 * Deleting store files nobody references. Callers hold the images lock (inside
 * `imageIndex(layout).update`) so no record can start referencing a file being deleted.
 * Only the digests a caller names are candidates: a global sweep could delete the disks of
 * an import that has converted its layers but not yet written its record.
 */
import { rm, stat } from 'node:fs/promises';
import { errnoCode } from '../errors.ts';
import type { Layout } from '../layout.ts';
import { vmIndex } from '../vms.ts';
import type { ImageRecord } from '../schemas/image.ts';
import { withLock } from '../store/lock.ts';
import { bootDir, imageIndex, layerDigests, layerFiles, storeDiskPath } from './store.ts';

/** Disk paths attached to any VM in `<root>/vms/index.json` (an absent index means none). */
export async function vmDiskPaths(layout: Layout): Promise<Set<string>> {
  return new Set((await vmIndex(layout).list()).flatMap((vm) => vm.storage_configs.map((d) => d.path)));
}

/**
 * Deletes the disks (EROFS layer in any layout, or cloud qcow2) of `candidates` that no
 * record in `remaining` uses and no VM has attached, and the boot folder of a digest nothing
 * uses any more. Returns the digests nothing uses any more (their files are gone).
 */
export async function pruneLayers(layout: Layout, candidates: Iterable<string>, remaining: Iterable<ImageRecord>): Promise<string[]> {
  const records = [...remaining];
  const used = new Set(records.flatMap(layerDigests));
  const usedFiles = new Set(records.flatMap((r) => r.layers.map((l) => storeDiskPath(layout, l))));
  const attached = await vmDiskPaths(layout);
  const removed: string[] = [];
  for (const digest of new Set(candidates)) {
    const files = layerFiles(layout, digest);
    for (const f of files) if (!usedFiles.has(f) && !attached.has(f)) await rm(f, { force: true });
    if (used.has(digest) || files.some((f) => attached.has(f))) continue;
    await rm(bootDir(layout, digest), { recursive: true, force: true });
    removed.push(digest);
  }
  return removed;
}

/**
 * A failed import's rollback: `pruneLayers` of the files it created, under the images lock,
 * against the records as they are. The index file is not rewritten (nor created): a failure
 * leaves the store exactly as it was.
 */
export async function rollbackLayers(layout: Layout, created: Iterable<string>): Promise<string[]> {
  return withLock(layout.images.lock, async () => pruneLayers(layout, created, await imageIndex(layout).list()), { what: 'the image index' });
}

/** Size in bytes of a file, 0 when it does not exist. */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw err;
  }
}
