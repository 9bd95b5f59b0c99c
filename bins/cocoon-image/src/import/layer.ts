/**
 * One layer → one read-only EROFS disk in the store (plus its kernel/initrd, if any). The
 * layer is extracted into a staging folder (from a blob file here, from a live download in
 * `pull`), the disk is built in `work` and renamed into `images/blobs/sha256/` at the very
 * end. A disk already in the store is reused.
 */
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errnoCode } from '@cocoon/common/errors';
import { bootDir, layerDiskPath } from '@cocoon/common/images/store';
import { sizeOf } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import { digestHex } from '@cocoon/common/schemas/common';
import type { ErofsLayout } from '@cocoon/common/schemas/image';
import { readBoot, extractBoot, type BootFiles } from './boot.ts';
import { buildErofs } from './erofs.ts';
import { extractTar } from './extract-tar.ts';
import type { LayerPlan } from './archive.ts';

/** Read size for blob files: fewer, larger chunks through gunzip and the tar parser. */
const READ_CHUNK = 1 << 20;

export interface LayerResult {
  digest: string;
  /** Size of the EROFS disk plus the boot files. */
  size: number;
  boot: BootFiles | null;
  /** True when this call created the disk (false: it was already in the store). */
  converted: boolean;
  /** How the disk is laid out (absent: plain). */
  erofs?: ErofsLayout;
}

/** Converts `layer` unless its disk exists; `work` is a private scratch folder under layout.tmp. */
export async function convertLayer(layout: Layout, layer: LayerPlan, work: string): Promise<LayerResult> {
  const reused = await reuseLayer(layout, layer.digest, layer.erofs);
  if (reused) return reused;
  return buildLayer(layout, layer.digest, work, (root) => extractTar(createReadStream(layer.file.path, { highWaterMark: READ_CHUNK }), layer, root), layer.erofs);
}

/** The store's disk of `digest` in layout `erofs` as a layer result, or null when the store lacks it. */
export async function reuseLayer(layout: Layout, digest: string, erofs?: ErofsLayout): Promise<LayerResult | null> {
  const disk = layerDiskPath(layout, digest, erofs);
  const boot = bootDir(layout, digest);
  if (!(await exists(disk))) return null;
  return { digest, size: await storeSize(disk, boot), boot: await readBoot(boot), converted: false, ...(erofs ? { erofs } : {}) };
}

/**
 * Fills a fresh staging folder with `fill` (which must resolve only once the layer's content is
 * verified), then builds the EROFS disk and moves it and the boot files into the store.
 */
export async function buildLayer(layout: Layout, digest: string, work: string, fill: (root: string) => Promise<void>, erofs?: ErofsLayout): Promise<LayerResult> {
  const disk = layerDiskPath(layout, digest, erofs);
  const boot = bootDir(layout, digest);
  const scratch = join(work, digestHex(digest).slice(0, 16));
  const root = join(scratch, 'root');
  const stagedBoot = join(scratch, 'boot');
  await mkdir(root, { recursive: true, mode: 0o700 });
  await mkdir(stagedBoot, { mode: 0o700 });
  try {
    await fill(root);
    const files = extractBoot(root, stagedBoot);
    const out = join(scratch, 'layer.erofs');
    await buildErofs(digest, out, root, erofs);
    await mkdir(dirname(disk), { recursive: true, mode: 0o700 });
    if (files) await placeDir(stagedBoot, boot);
    // NOTE: the disk is renamed last: a disk in the store implies its boot folder is complete.
    await rename(out, disk);
    return { digest, size: await storeSize(disk, boot), boot: files, converted: true, ...(erofs ? { erofs } : {}) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function placeDir(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  try {
    await rename(from, to);
  } catch (err) {
    // Another import of the same layer placed it first: same content, keep theirs.
    if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
  }
}

async function storeSize(disk: string, boot: string): Promise<number> {
  const files = await readBoot(boot);
  const bootSizes = files ? [files.kernel, files.initrd].filter((f): f is string => !!f).map((f) => sizeOf(join(boot, f))) : [];
  return (await sizeOf(disk)) + (await Promise.all(bootSizes)).reduce((a, b) => a + b, 0);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
