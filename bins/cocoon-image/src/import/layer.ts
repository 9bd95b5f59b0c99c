/**
 * One layer blob → one read-only EROFS disk in the store (plus its kernel/initrd, if any).
 * The blob is decompressed (gzip, zstd or plain tar) as a stream, its uncompressed bytes are
 * hashed against the diff_id while the tar is extracted, and the disk is built in `work` and
 * renamed into `images/blobs/sha256/` at the very end. A disk already in the store is reused.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { errnoCode, InvalidDataError } from '@cocoon/common/errors';
import { spawn } from '@cocoon/common/exec';
import { bootDir, layerDiskPath } from '@cocoon/common/images/store';
import { sizeOf } from '@cocoon/common/images/prune';
import type { Layout } from '@cocoon/common/layout';
import { digestHex } from '@cocoon/common/schemas/common';
import { readBoot, extractBoot, type BootFiles } from './boot.ts';
import { detectWrapper } from './detect.ts';
import { buildErofs } from './erofs.ts';
import { LayerWriter } from './safe-extract.ts';
import { peek } from './source.ts';
import type { LayerPlan } from './archive.ts';

export interface LayerResult {
  digest: string;
  /** Size of the EROFS disk plus the boot files. */
  size: number;
  boot: BootFiles | null;
  /** True when this call created the disk (false: it was already in the store). */
  converted: boolean;
}

/** Converts `layer` unless its disk exists; `work` is a private scratch folder under layout.tmp. */
export async function convertLayer(layout: Layout, layer: LayerPlan, work: string): Promise<LayerResult> {
  const disk = layerDiskPath(layout, layer.digest);
  const boot = bootDir(layout, layer.digest);
  if (await exists(disk)) return { digest: layer.digest, size: await storeSize(disk, boot), boot: await readBoot(boot), converted: false };
  const scratch = join(work, digestHex(layer.digest).slice(0, 16));
  const root = join(scratch, 'root');
  const stagedBoot = join(scratch, 'boot');
  await mkdir(root, { recursive: true, mode: 0o700 });
  await mkdir(stagedBoot, { mode: 0o700 });
  try {
    await extractLayer(layer, root);
    const files = extractBoot(root, stagedBoot);
    const out = join(scratch, 'layer.erofs');
    await buildErofs(layer.digest, out, root);
    await mkdir(dirname(disk), { recursive: true, mode: 0o700 });
    if (files) await placeDir(stagedBoot, boot);
    // NOTE: the disk is renamed last: a disk in the store implies its boot folder is complete.
    await rename(out, disk);
    return { digest: layer.digest, size: await storeSize(disk, boot), boot: files, converted: true };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Streams the blob through decompression and the diff_id check into `root`. */
async function extractLayer(layer: LayerPlan, root: string): Promise<void> {
  const label = `layer ${layer.digest}`;
  const { head, stream } = await peek(createReadStream(layer.file.path), 8);
  const tarStream = decompress(detectWrapper(head), stream);
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  for (const s of [stream, tarStream, tap]) s.on('error', (err) => extract.destroy(err));
  tarStream.pipe(tap).pipe(extract);
  const writer = new LayerWriter(root, label);
  try {
    for await (const entry of extract) {
      await writer.write(entry.header, entry);
      entry.resume();
    }
  } catch (err) {
    stream.destroy();
    if (err instanceof Error && 'exitCode' in err) throw err;
    throw new InvalidDataError(`${label}: not a valid tar stream (${(err as Error).message})`, { cause: err });
  }
  const diffId = `sha256:${hash.digest('hex')}`;
  if (layer.diff_id && diffId !== layer.diff_id) {
    throw new InvalidDataError(`${label}: uncompressed content does not match its diff_id (expected ${layer.diff_id}, got ${diffId})`);
  }
  writer.finalize();
}

function decompress(wrapper: string | null, input: Readable): Readable {
  if (wrapper === 'gzip') return input.pipe(createGunzip());
  if (wrapper !== 'zstd') return input;
  // NOTE: Node 20's zlib has no zstd; the zstd tool (Debian: zstd) decodes the stream.
  const child = spawn('zstd', ['-dcq'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false });
  const out = new PassThrough();
  input.pipe(child.stdin as NodeJS.WritableStream);
  (child.stdout as Readable).pipe(out);
  child.catch((err: unknown) => out.destroy(new InvalidDataError(`zstd failed to decompress a layer (${(err as Error).message.split('\n')[0]})`)));
  return out;
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
