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
import { bootDir, cloudDiskPath, imageIndex, layerDigests, layerDiskPath } from './store.ts';

/** Disk paths attached to any VM in `<root>/vms/index.json` (an absent index means none). */
export async function vmDiskPaths(layout: Layout): Promise<Set<string>> {
  return new Set((await vmIndex(layout).list()).flatMap((vm) => vm.storage_configs.map((d) => d.path)));
}

/**
 * Deletes the disks (EROFS layer or cloud qcow2) and boot folders of `candidates` that no
 * record in `remaining` uses and no VM has attached. Returns the digests whose files were deleted.
 */
export async function pruneLayers(layout: Layout, candidates: Iterable<string>, remaining: Iterable<ImageRecord>): Promise<string[]> {
  const used = new Set([...remaining].flatMap(layerDigests));
  const attached = await vmDiskPaths(layout);
  const removed: string[] = [];
  for (const digest of new Set(candidates)) {
    // NOTE: a digest names one content, so at most one of the two files exists.
    const disks = [layerDiskPath(layout, digest), cloudDiskPath(layout, digest)];
    if (used.has(digest) || disks.some((d) => attached.has(d))) continue;
    for (const d of disks) await rm(d, { force: true });
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
